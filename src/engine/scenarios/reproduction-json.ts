/**
 * A reproduction's results as a small JSON file (`lab reproduce --json-out public/reproduction.json`),
 * so the lab page can show a committed full run next to the paper without running it: per-row
 * statistics, the verdicts with their evidence, and what a reader needs to judge them (date,
 * machine, command, seeds, budget). JSON has no NaN: a row that did not run stores null means.
 * Plain data only (no tfjs), so the page can read it.
 */
import { LabError } from '../errors';
import type { FineTuneBudget } from './budget';
import type { ClaimVerdict, RowSummary, Stat, VerdictKind } from './report';
import type { ReproduceRow } from './reproduce-plan';
import type { Precondition, PreconditionStatus } from './preconditions';
import { SCENARIO_NUMBER } from './types';

export const REPRODUCTION_FORMAT = 'prunability-lab/reproduction@1';
/** Several regimes' records in one file (public/reproduction.json): the page shows the first by default. */
export const REPRODUCTIONS_FORMAT = 'prunability-lab/reproductions@1';

/** The recovery budget sweep: the headline rows at one fine-tuning budget. */
export interface SweepPoint {
  steps: number;
  rows: RowSummary[];
  /** Seeds the plan gives this budget (absent in files written before it was recorded). */
  seeds?: number;
}

export interface ReproductionRecord {
  format: typeof REPRODUCTION_FORMAT;
  /** ISO date (YYYY-MM-DD) the report was made. */
  date: string;
  machine: string;
  command: string;
  quick: boolean;
  tier: 'XS' | 'S';
  seeds: number[];
  budget: FineTuneBudget;
  /** Share of ResNet-50's MACs the pruned rows keep (ResNet-18's MACs). */
  macsKeep: number;
  /** Minutes of new runs behind this report (cached cells excluded). */
  wallSeconds: number;
  setup: string[];
  notes: string[];
  rows: RowSummary[];
  verdicts: ClaimVerdict[];
  /** Which zoo and source the run used (absent in records made before regimes: those are v1). */
  regime?: { id: string; label: string };
  preconditions?: Precondition[];
  /** The headline rows at other fine-tuning budgets (the main budget's point is `rows`). */
  sweep?: SweepPoint[];
}

/** Stat means of rows that did not run are NaN; JSON writes them as null. */
export function reproductionToJson(r: ReproductionRecord): string {
  return JSON.stringify(r, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2) + '\n';
}

const VERDICTS: readonly VerdictKind[] = ['holds', 'does not hold', 'inconclusive'];

function fail(what: string): never {
  throw new LabError('bad-argument', `The reproduction results file is not one the lab can read: ${what}.`);
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function numOrNaN(v: unknown, where: string): number {
  if (v === null) return NaN;
  if (typeof v !== 'number') fail(`${where} should be a number, found ${JSON.stringify(v)}`);
  return v;
}

function statOf(v: unknown, where: string): Stat {
  if (!isObj(v)) fail(`${where} should be {mean, std, n}`);
  return { mean: numOrNaN(v.mean, `${where}.mean`), std: numOrNaN(v.std, `${where}.std`), n: numOrNaN(v.n, `${where}.n`) };
}

function strings(v: unknown, where: string): string[] {
  if (!Array.isArray(v) || v.some((s) => typeof s !== 'string')) fail(`${where} should be a list of sentences`);
  return v as string[];
}

function rowOf(v: unknown, i: number): RowSummary {
  const w = `row ${i + 1}`;
  if (!isObj(v) || !isObj(v.row) || typeof v.row.id !== 'string' || typeof v.row.label !== 'string') fail(`${w} has no row id and label`);
  if (typeof v.row.scenario !== 'string' || !(v.row.scenario in SCENARIO_NUMBER)) fail(`${w} names no known scenario (${JSON.stringify(v.row.scenario)})`);
  if (!isObj(v.before) || !isObj(v.after)) fail(`${w} has no before/after statistics`);
  const seen = Array.isArray(v.imagesSeen) ? v.imagesSeen.map((x, j) => numOrNaN(x, `${w}.imagesSeen[${j}]`)) : fail(`${w}.imagesSeen should be a list`);
  return {
    row: v.row as unknown as ReproduceRow,
    n: numOrNaN(v.n, `${w}.n`),
    macs: statOf(v.macs, `${w}.macs`),
    params: statOf(v.params, `${w}.params`),
    before: { mAP: statOf(v.before.mAP, `${w}.before.mAP`), rank1: statOf(v.before.rank1, `${w}.before.rank1`) },
    after: { mAP: statOf(v.after.mAP, `${w}.after.mAP`), rank1: statOf(v.after.rank1, `${w}.after.rank1`), rank5: statOf(v.after.rank5, `${w}.after.rank5`) },
    imagesSeen: seen,
    seconds: statOf(v.seconds, `${w}.seconds`),
  };
}

/** Several regimes' records as one file; the first is the one shown by default. */
export function reproductionsToJson(records: readonly ReproductionRecord[]): string {
  return JSON.stringify({ format: REPRODUCTIONS_FORMAT, records }, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2) + '\n';
}

const STATUSES: readonly PreconditionStatus[] = ['held', 'failed', 'unknown', 'stated'];

function preconditionOf(v: unknown, i: number): Precondition {
  const w = `precondition ${i + 1}`;
  if (!isObj(v) || typeof v.id !== 'string' || typeof v.text !== 'string' || !STATUSES.includes(v.status as PreconditionStatus)) fail(`${w} needs an id, a text and one of ${STATUSES.join(', ')}`);
  if (!Array.isArray(v.claims) || v.claims.some((c) => typeof c !== 'number')) fail(`${w}.claims should be a list of claim numbers`);
  return { id: v.id, text: v.text, status: v.status as PreconditionStatus, evidence: strings(v.evidence, `${w}.evidence`), claims: v.claims as number[] };
}

/**
 * Cells run and planned: the main table (row x seed) and the budget sweep (row x that budget's
 * seeds; a point from before its seeds were recorded counts the most any of its rows has).
 */
export function cellCounts(r: Pick<ReproductionRecord, 'rows' | 'seeds' | 'sweep'>): { main: { ran: number; planned: number }; sweep: { ran: number; planned: number } } {
  const sweep = { ran: 0, planned: 0 };
  for (const p of r.sweep ?? []) {
    const seeds = p.seeds ?? Math.max(0, ...p.rows.map((x) => x.n));
    sweep.planned += p.rows.length * seeds;
    sweep.ran += p.rows.reduce((a, x) => a + Math.min(x.n, seeds), 0);
  }
  return { main: { ran: r.rows.reduce((a, x) => a + Math.min(x.n, r.seeds.length), 0), planned: r.rows.length * r.seeds.length }, sweep };
}

function sweepOf(v: unknown, i: number): SweepPoint {
  if (!isObj(v) || typeof v.steps !== 'number' || !Array.isArray(v.rows)) fail(`sweep point ${i + 1} needs steps and rows`);
  if (v.seeds !== undefined && !(Number.isInteger(v.seeds) && (v.seeds as number) >= 1)) fail(`sweep point ${i + 1} has seeds ${String(v.seeds)}, not a whole number from 1`);
  return { steps: v.steps, rows: v.rows.map((r, j) => rowOf(r, j)), ...(v.seeds !== undefined ? { seeds: v.seeds as number } : {}) };
}

/**
 * Read a results file: one record (a file written before regimes, read as it is) or several
 * (REPRODUCTIONS_FORMAT). A clear LabError if it is neither.
 */
export function parseReproductions(text: string): ReproductionRecord[] {
  const v = parseJsonObject(text);
  if (v.format === REPRODUCTIONS_FORMAT) {
    if (!Array.isArray(v.records) || v.records.length === 0) fail('records should be a non-empty list');
    return v.records.map((r, i) => {
      try {
        return recordOf(r);
      } catch (e) {
        throw new LabError('bad-argument', `${(e as Error).message} (record ${i + 1})`);
      }
    });
  }
  return [recordOf(v)];
}

function parseJsonObject(text: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    fail(`it is not JSON (${(e as Error).message})`);
  }
  if (!isObj(v)) fail('it is not a JSON object');
  return v;
}

/** Read and check one record's text; a clear LabError if it is not one. */
export function parseReproduction(text: string): ReproductionRecord {
  return recordOf(parseJsonObject(text));
}

function recordOf(v: unknown): ReproductionRecord {
  if (!isObj(v)) fail('a record is not a JSON object');
  if (v.format !== REPRODUCTION_FORMAT) fail(`its format is ${JSON.stringify(v.format)}, expected "${REPRODUCTION_FORMAT}"`);
  if (typeof v.date !== 'string' || typeof v.machine !== 'string' || typeof v.command !== 'string') fail('date, machine or command is missing');
  if (!Array.isArray(v.seeds) || v.seeds.some((s) => typeof s !== 'number')) fail('seeds should be a list of numbers');
  if (!Array.isArray(v.rows)) fail('rows should be a list');
  if (!Array.isArray(v.verdicts)) fail('verdicts should be a list');
  if (!isObj(v.budget)) fail('budget is missing');
  const verdicts = v.verdicts.map((x, i): ClaimVerdict => {
    if (!isObj(x) || typeof x.claim !== 'string' || typeof x.headline !== 'string' || !VERDICTS.includes(x.verdict as VerdictKind)) fail(`verdict ${i + 1} needs a claim, a headline and one of ${VERDICTS.join(', ')}`);
    return { claim: x.claim, verdict: x.verdict as VerdictKind, headline: x.headline, evidence: strings(x.evidence, `verdict ${i + 1}.evidence`) };
  });
  return {
    format: REPRODUCTION_FORMAT,
    date: v.date,
    machine: v.machine,
    command: v.command,
    quick: v.quick === true,
    tier: v.tier === 'XS' ? 'XS' : 'S',
    seeds: v.seeds as number[],
    budget: v.budget as unknown as FineTuneBudget,
    macsKeep: numOrNaN(v.macsKeep ?? null, 'macsKeep'),
    wallSeconds: numOrNaN(v.wallSeconds ?? null, 'wallSeconds'),
    setup: strings(v.setup ?? [], 'setup'),
    notes: strings(v.notes ?? [], 'notes'),
    rows: v.rows.map(rowOf),
    verdicts,
    ...(isObj(v.regime) && typeof v.regime.id === 'string' && typeof v.regime.label === 'string' ? { regime: { id: v.regime.id, label: v.regime.label } } : {}),
    ...(v.preconditions !== undefined ? { preconditions: Array.isArray(v.preconditions) ? v.preconditions.map(preconditionOf) : fail('preconditions should be a list') } : {}),
    ...(v.sweep !== undefined ? { sweep: Array.isArray(v.sweep) ? v.sweep.map(sweepOf) : fail('sweep should be a list') } : {}),
  };
}
