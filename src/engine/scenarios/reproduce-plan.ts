/**
 * What `lab reproduce` runs: the lab-scale analogue of the paper's Table 5. Dense ResNet-18/34/50
 * zoo models (trained on SynthReID S source) fine-tuned on the target; ResNet-50 pruned to
 * ResNet-18's MACs with each criterion of the table (plus FPGM and COP) and fine-tuned with the
 * same budget; and the pruning-domain pair of claim 3 (scenario 1 vs scenario 2).
 * Each (row, seed) is one cell, cached under a key of everything that determines its result.
 */
import type { FineTuneBudget } from './budget';
import type { PruneMethod, ScenarioId } from './types';
import { hashString } from '../util/prng';

export type ZooDepth = 18 | 34 | 50;

export interface ReproduceRow {
  id: string;
  label: string;
  /** The paper's Table 5 row ("ResNet50", "HaoLi", ...), when there is one. */
  paper?: string;
  depth: ZooDepth;
  scenario: ScenarioId;
  method?: PruneMethod;
}

export const REPRODUCE_ROWS: readonly ReproduceRow[] = [
  { id: 'resnet50', label: 'ResNet-50', paper: 'ResNet50', depth: 50, scenario: 'finetune-only' },
  { id: 'resnet34', label: 'ResNet-34', paper: 'ResNet34', depth: 34, scenario: 'finetune-only' },
  { id: 'resnet18', label: 'ResNet-18', paper: 'ResNet18', depth: 18, scenario: 'finetune-only' },
  { id: 'haoli', label: 'Hao Li (l1)', paper: 'HaoLi', depth: 50, scenario: 'finetune-prune-finetune', method: 'l1' },
  { id: 'molchanov', label: 'Molchanov (Taylor)', paper: 'Molchanov', depth: 50, scenario: 'finetune-prune-finetune', method: 'taylor' },
  { id: 'autobalanced', label: 'AutoBalanced', paper: 'AutoBalanced', depth: 50, scenario: 'finetune-prune-finetune', method: 'auto-balanced' },
  { id: 'entropy', label: 'Entropy', paper: 'Entropy', depth: 50, scenario: 'finetune-prune-finetune', method: 'entropy' },
  { id: 'psfp', label: 'PSFP', paper: 'PSFP', depth: 50, scenario: 'prune-while-finetuning', method: 'psfp' },
  { id: 'fpgm', label: 'soft FPGM', depth: 50, scenario: 'prune-while-finetuning', method: 'fpgm-soft' },
  { id: 'cop', label: 'COP', depth: 50, scenario: 'finetune-prune-finetune', method: 'cop' },
  { id: 'molchanov-source', label: 'Molchanov, pruned at the source', depth: 50, scenario: 'prune-at-source', method: 'taylor' },
  { id: 'haoli-source', label: 'Hao Li, pruned at the source', depth: 50, scenario: 'prune-at-source', method: 'l1' },
];

/** Rows of --quick: enough for one comparison per claim. */
export const QUICK_ROW_IDS: readonly string[] = ['resnet50', 'resnet18', 'haoli', 'molchanov', 'psfp', 'molchanov-source'];

/** Rows each claim needs (a missing zoo model for one of these stops the run). */
export const REQUIRED_DEPTHS: readonly ZooDepth[] = [18, 50];

export interface ReproduceSettings {
  quick: boolean;
  seeds: number[];
  budget: FineTuneBudget;
  /** Fine-tuning subset of the target TRAIN split: identities x images (seeded by the cell's seed). */
  fineTuneIds: number;
  imagesPerId: number;
  /** Test identities evaluated (seeded subset; 0 = all). */
  evalIds: number;
  criterionBatches: number;
  criterionBatchSize: number;
  softEpochs: number;
  tier: 'XS' | 'S';
  width: number;
}

export function reproduceSettings(o: { quick: boolean; seeds?: number; steps?: number; evalIds?: number; fineTuneIds?: number; imagesPerId?: number; tier?: 'XS' | 'S'; p?: number; k?: number }): ReproduceSettings {
  const quick = o.quick;
  const n = o.seeds ?? (quick ? 1 : 3);
  return {
    quick,
    seeds: Array.from({ length: n }, (_, i) => i + 1),
    budget: { steps: o.steps ?? (quick ? 8 : 100), p: o.p ?? (quick ? 4 : 8), k: o.k ?? 4, lr: 1e-4 },
    fineTuneIds: o.fineTuneIds ?? (quick ? 32 : 64),
    imagesPerId: o.imagesPerId ?? 4,
    evalIds: o.evalIds ?? (quick ? 30 : 0),
    criterionBatches: quick ? 2 : 4,
    criterionBatchSize: quick ? 16 : 32,
    softEpochs: 5,
    tier: o.tier ?? 'S',
    width: 0.5,
  };
}

export function selectRows(quick: boolean, ids?: readonly string[]): ReproduceRow[] {
  const wanted = ids ?? (quick ? QUICK_ROW_IDS : REPRODUCE_ROWS.map((r) => r.id));
  return REPRODUCE_ROWS.filter((r) => wanted.includes(r.id));
}

/** Zoo folder name of a depth, e.g. "resnet50-w0.5". */
export function zooName(depth: ZooDepth, width: number): string {
  return `resnet${depth}-w${width}`;
}

/**
 * The cache key of one cell: the row, the seed, everything in the settings that changes the
 * result (not the seed list or quick flag), and a fingerprint of the model weights used.
 */
export function cellKey(row: ReproduceRow, seed: number, s: ReproduceSettings, modelFingerprint: string, macsKeep?: number): { key: string; text: string } {
  const parts = {
    row: row.id,
    scenario: row.scenario,
    method: row.method ?? null,
    seed,
    budget: s.budget,
    subset: [s.fineTuneIds, s.imagesPerId],
    evalIds: s.evalIds,
    criterion: [s.criterionBatches, s.criterionBatchSize],
    softEpochs: s.softEpochs,
    tier: s.tier,
    macsKeep: macsKeep ?? null,
    model: modelFingerprint,
  };
  const text = JSON.stringify(parts);
  // The short key names the cell; the full text is stored with it and compared on reuse.
  return { key: `${row.id}/seed${seed}/${hashString(text).toString(16).padStart(8, '0')}`, text };
}
