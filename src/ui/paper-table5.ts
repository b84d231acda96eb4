/**
 * The paper's Table 5: the reference points the lab's runs are compared with.
 *
 * Source: "Exploiting Prunability for Person Re-Identification" (arXiv 1907.02547), Table 5, as
 * transcribed in the project's seed slide deck (shared/seeds/002_93b109af1964bff0.txt), copied
 * here from shared/reference/paper-tables.json (not fetched at run time: the lab works offline).
 * Pruned rows are ResNet-50 pruned to about half its FLOPs. The paper's FLOPs convention is
 * unknown (its ResNet-34 counts more than its ResNet-50), so these points are plotted in their
 * own units (GFLOPs as the paper counts them), never on the lab's MACs axis.
 */

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

// [network, params_M, gflops, market_mAP, market_r1, duke_mAP, duke_r1, cuhk03np_mAP, cuhk03np_r1]
const RAW: [string, number, number, number, number, number, number, number, number][] = [
  ['ResNet50', 23.48, 6.32, 69.16, 85.07, 59.46, 76.39, 47.57, 48.43],
  ['ResNet34', 21.28, 6.67, 67.44, 84.09, 58.36, 75.45, 45.51, 47.14],
  ['ResNet18', 11.12, 3.09, 61.23, 81.18, 52.07, 71.63, 38.27, 39.57],
  ['HaoLi', 11.9, 2.96, 67.04, 84.71, 57.51, 75.0, 44.08, 46.5],
  ['Molchanov', 12.09, 3.21, 66.35, 84.44, 57.9, 75.72, 44.4, 46.21],
  ['AutoBalanced', 11.9, 2.96, 65.46, 83.64, 56.45, 74.64, 41.85, 44.21],
  ['Entropy', 11.9, 2.96, 65.16, 82.39, 56.64, 74.64, 42.44, 44.07],
  ['PSFP', 11.9, 2.96, 65.92, 83.72, 56.96, 74.66, 42.38, 45.58],
];

export const PAPER_TABLE5: readonly PaperRow[] = RAW.map(([network, paramsM, gflops, mm, mr, dm, dr, cm, cr]) => ({
  network,
  kind: network.startsWith('ResNet') ? 'dense' : 'pruned',
  paramsM,
  gflops,
  market: { mAP: mm, rank1: mr },
  duke: { mAP: dm, rank1: dr },
  cuhk03np: { mAP: cm, rank1: cr },
}));
