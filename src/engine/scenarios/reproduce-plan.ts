/**
 * What `lab reproduce` runs: the lab-scale analogue of the paper's Table 5. Dense ResNet-18/34/50
 * zoo models (trained on SynthReID S source) fine-tuned on the target; ResNet-50 pruned to
 * ResNet-18's MACs with each criterion of the table (plus FPGM and COP) and fine-tuned with the
 * same budget; and the pruning-domain pair of claim 3 (scenario 1 vs scenario 2).
 * Each (row, seed) is one cell, cached under a key of everything that determines its result.
 */
import type { FineTuneBudget } from './budget';
import type { PruneMethod, ScenarioId } from './types';
import { LabError } from '../errors';
import { hashString } from '../util/prng';

export type ZooDepth = 18 | 34 | 50;

/**
 * The regime a reproduction runs in: which zoo, and which source domain its models were trained
 * on (scenario 1 prunes with that source's training data). The target (SynthReID S target) and
 * the plan are the same in both, so their verdicts can be set side by side.
 */
export type RegimeId = 'v1' | 'v2';

export interface Regime {
  id: RegimeId;
  /** One line a reader sees beside every number of this regime. */
  label: string;
  /** Appended to the zoo folder names ("resnet50-w0.5" + suffix). */
  zooSuffix: string;
  /** SynthReID tier of the source domain the zoo models were trained on. */
  sourceTier: 'XS' | 'S' | 'M';
  /** How the zoo models were made, for the report's setup. */
  training: string;
}

export const REGIMES: Readonly<Record<RegimeId, Regime>> = {
  v1: {
    id: 'v1',
    label: 'v1: trained from scratch on SynthReID S source (150 identities)',
    zooSuffix: '',
    sourceTier: 'S',
    training: 'trained from scratch on SynthReID S source (150 identities, 2,000 steps, the lab\'s trainer)',
  },
  v2: {
    id: 'v2',
    label: 'v2: pre-trained on the SynthReID pool (5,000 identities), then trained on SynthReID M source (751 identities)',
    zooSuffix: '-v2',
    sourceTier: 'M',
    training: 'pre-trained on the SynthReID pool P (5,000 identities, 64x32) and trained on SynthReID M source (751 identities, 128x64) with the PyTorch companion (docs/ZOO.md)',
  },
};

export const DEFAULT_REGIME: RegimeId = 'v2';

export function regimeOf(id: string): Regime {
  const r = (REGIMES as Record<string, Regime>)[id];
  if (!r) throw new LabError('bad-argument', `The regime must be one of ${Object.keys(REGIMES).join(', ')}; got "${id}".`);
  return r;
}

export interface ReproduceRow {
  id: string;
  label: string;
  /** The paper's Table 5 row ("ResNet50", "HaoLi", ...), when there is one. */
  paper?: string;
  depth: ZooDepth;
  scenario: ScenarioId;
  method?: PruneMethod;
  /** Regimes whose plan has this row (default: every regime). */
  regimes?: readonly RegimeId[];
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
  // Claim 2 on a second large-vs-small pair: ResNet-34 pruned to ResNet-18's MACs (added with zoo v2).
  { id: 'haoli-r34', label: 'Hao Li, ResNet-34 pruned', depth: 34, scenario: 'finetune-prune-finetune', method: 'l1', regimes: ['v2'] },
  { id: 'molchanov-r34', label: 'Molchanov, ResNet-34 pruned', depth: 34, scenario: 'finetune-prune-finetune', method: 'taylor', regimes: ['v2'] },
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
  regime: Regime;
  /** SynthReID tier of the source data scenario 1 prunes with: the regime's, or XS in smoke runs. */
  sourceTier: 'XS' | 'S' | 'M';
}

export function reproduceSettings(o: { quick: boolean; seeds?: number; steps?: number; evalIds?: number; fineTuneIds?: number; imagesPerId?: number; tier?: 'XS' | 'S'; p?: number; k?: number; regime?: RegimeId }): ReproduceSettings {
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
    regime: REGIMES[o.regime ?? DEFAULT_REGIME],
    sourceTier: o.tier === 'XS' ? 'XS' : REGIMES[o.regime ?? DEFAULT_REGIME].sourceTier,
  };
}

/** The plan's rows (a regime's, when given), or those named in `ids`. */
export function selectRows(quick: boolean, ids?: readonly string[], regime: RegimeId = DEFAULT_REGIME): ReproduceRow[] {
  const inRegime = REPRODUCE_ROWS.filter((r) => !r.regimes || r.regimes.includes(regime));
  const wanted = ids ?? (quick ? QUICK_ROW_IDS : inRegime.map((r) => r.id));
  return inRegime.filter((r) => wanted.includes(r.id));
}

/** Zoo folder name of a depth, e.g. "resnet50-w0.5" (v1) or "resnet50-w0.5-v2". */
export function zooName(depth: ZooDepth, width: number, regime: Pick<Regime, 'zooSuffix'> = REGIMES[DEFAULT_REGIME]): string {
  return `resnet${depth}-w${width}${regime.zooSuffix}`;
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
    // Only where it differs from v1's, so v1's cached cells keep their keys.
    ...(s.sourceTier !== s.tier && row.scenario === 'prune-at-source' ? { sourceTier: s.sourceTier } : {}),
  };
  const text = JSON.stringify(parts);
  // The short key names the cell; the full text is stored with it and compared on reuse.
  return { key: `${row.id}/seed${seed}/${hashString(text).toString(16).padStart(8, '0')}`, text };
}
