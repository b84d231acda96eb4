/**
 * The paper's Table 5 and its three claims, as the reference file gives them
 * (shared/reference/paper-tables.json; a test checks this copy against it when the file is
 * present). Kept in the engine so the app and the CLI work offline.
 *
 * Source: "Exploiting Prunability for Person Re-Identification" (arXiv 1907.02547), Table 5 as
 * transcribed in the project's seed slide deck. Pruned rows are ResNet-50 pruned to about half
 * its FLOPs. The paper's FLOPs convention is unknown (its ResNet-34 counts more than its
 * ResNet-50): its GFLOPs are shown as given, in their own column, never converted to MACs.
 */

// Named as a reader finds it: the paper and its table (where the project copied it from is in the comment above).
export const PAPER_TABLE5_SOURCE =
  'Exploiting Prunability for Person Re-Identification (arXiv 1907.02547), Table 5. Pruned rows are pruned ResNet-50. FLOPs convention of the paper is unknown (its ResNet-34 counts more than its ResNet-50).';

export const PAPER_TABLE5_COLUMNS = ['network', 'params_M', 'gflops', 'market_mAP', 'market_r1', 'duke_mAP', 'duke_r1', 'cuhk03np_mAP', 'cuhk03np_r1'] as const;

export type PaperTable5Row = [network: string, paramsM: number, gflops: number, marketMAP: number, marketR1: number, dukeMAP: number, dukeR1: number, cuhkMAP: number, cuhkR1: number];

export const PAPER_TABLE5: readonly PaperTable5Row[] = [
  ['ResNet50', 23.48, 6.32, 69.16, 85.07, 59.46, 76.39, 47.57, 48.43],
  ['ResNet34', 21.28, 6.67, 67.44, 84.09, 58.36, 75.45, 45.51, 47.14],
  ['ResNet18', 11.12, 3.09, 61.23, 81.18, 52.07, 71.63, 38.27, 39.57],
  ['HaoLi', 11.9, 2.96, 67.04, 84.71, 57.51, 75.0, 44.08, 46.5],
  ['Molchanov', 12.09, 3.21, 66.35, 84.44, 57.9, 75.72, 44.4, 46.21],
  ['AutoBalanced', 11.9, 2.96, 65.46, 83.64, 56.45, 74.64, 41.85, 44.21],
  ['Entropy', 11.9, 2.96, 65.16, 82.39, 56.64, 74.64, 42.44, 44.07],
  ['PSFP', 11.9, 2.96, 65.92, 83.72, 56.96, 74.66, 42.38, 45.58],
];

export const PAPER_CLAIMS = [
  'With pruning done on large pre-training or fine-tuning data, ResNet FLOPs halve while rank-1 stays within 1% of the original model.',
  'Pruning a larger CNN while training beats fine-tuning a smaller one (pruned ResNet-50 at ResNet-18\'s cost beats ResNet-18).',
  'Fine-tuning and pruning should be done in the same domain.',
] as const;

/** The paper's row by network name ("ResNet50", "HaoLi", ...). */
export function paperRow(network: string): PaperTable5Row | undefined {
  return PAPER_TABLE5.find((r) => r[0] === network);
}

/** The paper's numbers are given with two decimals; shown exactly so. */
export function paperNumber(v: number): string {
  return v.toFixed(2);
}
