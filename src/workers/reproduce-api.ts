/**
 * The Reproduce view's part of the worker contract (api.ts includes it): what the page asks for
 * and what comes back. Plain data only; no tfjs, so the page can import it.
 */
import type { ClaimVerdict, RowSummary } from '../engine/scenarios/report';
import type { FineTuneBudget } from '../engine/scenarios/budget';

export interface ReproduceRequest {
  /**
   * "zoo" (default): the zoo's ResNet-18/34/50 ×0.5 from the app's /models/. "tiny": seeded
   * random ResNets at width 0.125 and 64×32 (tests, slow backends: the numbers mean nothing).
   */
  models?: 'zoo' | 'tiny';
  /** Quick plan (default true): the rows and settings of `lab reproduce --quick`. */
  quick?: boolean;
  tier?: 'XS' | 'S';
  seeds?: number;
  steps?: number;
  p?: number;
  k?: number;
  fineTuneIds?: number;
  imagesPerId?: number;
  evalIds?: number;
  /** Row ids to run (default: the plan's). */
  rows?: string[];
}

/** The running reproduction's position: cell i of n, and an ETA from this run's pace. */
export interface ReproduceTick {
  cell: number;
  cells: number;
  toRun: number;
  ran: number;
  /** Seconds left; NaN (sent as null-ish) until the first cell has made progress. */
  etaSec: number;
}

export interface ReproduceView {
  /** One per planned row, in the report's order; n = 0 for rows not run. */
  rows: RowSummary[];
  verdicts: ClaimVerdict[];
  /** Rows not run because their zoo model is missing (or a model every row needs is). */
  missingRows: string[];
  /** Zoo folder names that were not found. */
  missingModels: string[];
  models: 'zoo' | 'tiny';
  tier: 'XS' | 'S';
  seeds: number[];
  budget: FineTuneBudget;
  macsKeep: number;
  cells: number;
  ran: number;
  reused: number;
  notRun: number;
  cancelled: boolean;
  notes: string[];
  seconds: number;
  backend: string;
}
