/**
 * The paper's Table 5 shaped for the chart: the reference points the lab's runs are compared
 * with. The numbers come from the engine's single copy (src/engine/scenarios/paper-table5.ts,
 * tested against shared/reference/paper-tables.json); this file only reshapes them.
 *
 * Source: "Exploiting Prunability for Person Re-Identification" (arXiv 1907.02547), Table 5, as
 * transcribed in the project's seed slide deck (shared/seeds/002_93b109af1964bff0.txt), copied
 * here from shared/reference/paper-tables.json (not fetched at run time: the lab works offline).
 * Pruned rows are ResNet-50 pruned to about half its FLOPs. The paper's FLOPs convention is
 * unknown (its ResNet-34 counts more than its ResNet-50), so these points are plotted in their
 * own units (GFLOPs as the paper counts them), never on the lab's MACs axis.
 */

import { PAPER_TABLE5 as ENGINE_TABLE5 } from '../engine/scenarios/paper-table5';

export interface PaperRow {
  network: string;
  /** Dense networks vs. pruned ResNet-50 (by criterion). */
  kind: 'dense' | 'pruned';
  paramsM: number;
  /** GFLOPs as the paper counts them. */
  gflops: number;
  market: { mAP: number; rank1: number };
  duke: { mAP: number; rank1: number };
  cuhk03np: { mAP: number; rank1: number };
}

export const PAPER_SOURCE =
  'Exploiting Prunability for Person Re-Identification (arXiv 1907.02547), Table 5; pruned rows are ResNet-50. GFLOPs as the paper counts them (convention unknown).';

export const PAPER_TABLE5: readonly PaperRow[] = ENGINE_TABLE5.map(([network, paramsM, gflops, mm, mr, dm, dr, cm, cr]) => ({
  network,
  kind: network.startsWith('ResNet') ? 'dense' : 'pruned',
  paramsM,
  gflops,
  market: { mAP: mm, rank1: mr },
  duke: { mAP: dm, rank1: dr },
  cuhk03np: { mAP: cm, rank1: cr },
}));
