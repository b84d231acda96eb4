/**
 * `lab finetune`: fine-tune a model folder on a small labelled subset of a domain's TRAIN split
 * (N identities x K images, seeded), score it on that domain's query/gallery before and after,
 * and write the result as a model folder with a card. Also the helpers prune/scenario/reproduce
 * share: the fine-tuning data from flags, a snapshot evaluation, the before/after printout.
 */
import { loadCliModel } from '../model';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { ReidModel } from '../../engine/model/model';
import type { ReidDataset, ReidSplit } from '../../engine/data/types';
import { modelCost, formatMacs, formatParams } from '../../engine/cost/macs';
import { evaluateModel } from '../../engine/eval/evaluate';
import type { Embedder } from '../../engine/eval/extract';
import { fineTunePtl } from '../../engine/ptl/ptl-finetune';
import { fineTune } from '../../engine/train/finetune';
import type { TrainConfigInput } from '../../engine/train/config';
import { evaluationSubset, selectFineTuneSubset } from '../../engine/scenarios/subset';
import type { Snapshot } from '../../engine/scenarios/types';
import { saveModelToFolder } from '../../node/model-files';
import { writeFolderAtomically, type OutputFolder } from '../../node/output-folder';
import { derivedOutput } from '../derived-output';
import { LabError } from '../../engine/errors';
import { resolveDataset } from '../data';
import { ProgressBar } from '../progress';
import { bool, num, str, type Flags } from '../args';

export interface CliData {
  dataset: ReidDataset;
  describe: string;
  fineTune: ReidSplit;
  evaluation: { query: ReidSplit; gallery: ReidSplit };
}

/** The dataset (default SynthReID S target), its fine-tuning subset and evaluation set, from flags. */
export async function fineTuneData(flags: Flags, size: { height: number; width: number }): Promise<CliData> {
  const { dataset, describe } = await resolveDataset(flags, size, { domain: 'target' });
  const seed = num(flags, 'seed', 1, { integer: true, min: 0 });
  const fineTune = selectFineTuneSubset(dataset, {
    identities: num(flags, 'ids', 32, { integer: true, min: 2 }),
    imagesPerIdentity: num(flags, 'images-per-id', 4, { integer: true, min: 2 }),
    seed,
  });
  const evalIds = num(flags, 'eval-ids', 0, { integer: true, min: 0 });
  const evaluation = evalIds > 0 ? evaluationSubset(dataset, evalIds, seed) : { query: dataset.query, gallery: dataset.gallery };
  return { dataset, describe, fineTune, evaluation };
}

/** Fine-tuning configuration from flags (the lab's fine-tuning defaults otherwise). */
export function fineTuneConfig(flags: Flags, steps: number): TrainConfigInput {
  return {
    steps,
    seed: num(flags, 'seed', 1, { integer: true, min: 0 }),
    p: num(flags, 'p', 8, { integer: true, min: 2 }),
    k: num(flags, 'k', 4, { integer: true, min: 2 }),
    optimizer: { kind: 'adam', lr: num(flags, 'lr', 1e-4, { min: 0 }) },
    // 0: the whole network; N: layerN onwards (stem and earlier stages frozen, BN in eval mode).
    trainFromStage: num(flags, 'train-from-stage', 0, { integer: true, min: 0, max: 4 }),
  };
}

/** Cost and accuracy of a model on an evaluation set (with a progress bar). */
export async function snapshot(model: Embedder, evaluation: CliData['evaluation'], label: string): Promise<Snapshot> {
  const total = evaluation.query.count + evaluation.gallery.count;
  const bar = new ProgressBar(`eval ${label}`, total);
  const r = await evaluateModel(model, evaluation, {
    onProgress: (p) => {
      if (p.phase === 'query') bar.update(p.done);
      else if (p.phase === 'gallery') bar.update(evaluation.query.count + p.done);
    },
  });
  bar.finish(`mAP ${(100 * r.mAP).toFixed(1)} R1 ${(100 * r.rank1).toFixed(1)}`);
  const c = modelCost(model.spec);
  return { macs: c.macs, params: c.params, mAP: r.mAP, rank1: r.rank1, rank5: r.rank5 };
}

export function costOnly(model: ReidModel): Snapshot {
  const c = modelCost(model.spec);
  return { macs: c.macs, params: c.params, mAP: NaN, rank1: NaN, rank5: NaN };
}

/** A before/after table for the terminal. */
export function formatBeforeAfter(before: Snapshot, after: Snapshot): string {
  const pct = (v: number) => (Number.isNaN(v) ? '—' : `${(100 * v).toFixed(2)}%`);
  const rel = (a: number, b: number) => `${((100 * b) / a).toFixed(1)}% of before`;
  const row = (name: string, a: string, b: string, note = '') => `${name.padEnd(8)} ${a.padStart(14)}  ->  ${b.padStart(14)}  ${note}`;
  return [
    row('', 'before', 'after'),
    row('MACs', formatMacs(before.macs), formatMacs(after.macs), rel(before.macs, after.macs)),
    row('params', formatParams(before.params), formatParams(after.params), rel(before.params, after.params)),
    row('mAP', pct(before.mAP), pct(after.mAP)),
    row('rank-1', pct(before.rank1), pct(after.rank1)),
    row('rank-5', pct(before.rank5), pct(after.rank5)),
  ].join('\n');
}

/** Save a derived model with a card saying where it came from and what was done, and any extra files (atomically). */
export async function saveDerived(
  model: ReidModel,
  out: OutputFolder,
  card: Record<string, unknown>,
  datasetName: string,
  after: Snapshot,
  extraFiles: Record<string, string> = {},
): Promise<void> {
  const cost = modelCost(model.spec);
  const full = {
    name: path.basename(out.dir),
    architecture: `ResNet-${model.spec.depth}`,
    widthMultiplier: model.spec.widthMultiplier,
    input: model.spec.input,
    macs: cost.macs,
    params: cost.params,
    ...card,
    evaluation: Number.isNaN(after.mAP) ? [] : [{ dataset: datasetName, mAP: after.mAP, rank1: after.rank1, rank5: after.rank5 }],
    created: new Date().toISOString(),
    tfjs: tf.version.tfjs,
  };
  await writeFolderAtomically(out, async (dir) => {
    await saveModelToFolder(model, dir, { dtype: 'float32' });
    await fs.writeFile(path.join(dir, 'card.json'), JSON.stringify(full, null, 2) + '\n');
    for (const [name, text] of Object.entries(extraFiles)) await fs.writeFile(path.join(dir, name), text);
  });
}

export async function finetuneCommand(flags: Flags, argv: string[]): Promise<void> {
  const dir = str(flags, 'model');
  const steps = num(flags, 'steps', 100, { integer: true, min: 1 });
  const out = await derivedOutput(flags, dir);
  const evaluate = !bool(flags, 'no-eval');
  const ptl = bool(flags, 'ptl');
  const cfg = fineTuneConfig(flags, steps);
  if (ptl && cfg.trainFromStage) throw new LabError('bad-argument', '--ptl trains a side branch that reads every stage, so it cannot be combined with --train-from-stage; drop one of them.');
  const { model } = await loadCliModel(flags);
  try {
    const data = await fineTuneData(flags, model.spec.input);
    const ids = new Set(data.fineTune.pids).size;
    process.stderr.write(`Fine-tuning subset: ${ids} identities, ${data.fineTune.count} images of the ${data.dataset.name} training split.\n`);
    const before = evaluate ? await snapshot(model, data.evaluation, 'before') : costOnly(model);
    const bar = new ProgressBar(ptl ? 'fine-tune (PTL)' : 'fine-tune', steps);
    const hooks = { progressIntervalMs: 1000, onProgress: (p: { step: number; loss: number; imagesPerSec: number }) => bar.update(p.step, `loss ${p.loss.toFixed(3)} ${p.imagesPerSec.toFixed(1)} img/s`) };
    let after: Snapshot;
    let r: { steps: number; imagesPerSec: number };
    let ptlNote: Record<string, unknown> | undefined;
    if (ptl) {
      // PTL: a BConv-Cell side branch trained jointly with the backbone (src/engine/ptl/). The
      // branch runs at inference too, so it is scored with it and its cost is shown apart.
      const res = await fineTunePtl(model, data.fineTune, cfg, hooks, { evaluation: data.evaluation });
      try {
        bar.finish();
        r = res;
        after = evaluate ? await snapshot(res.branch.embedder(model), data.evaluation, 'after (with PTL branch)') : costOnly(model);
        ptlNote = { branchMacs: res.cost.macs, branchParams: res.cost.params, savedWithModel: false };
        process.stdout.write(`PTL side branch: +${formatMacs(res.cost.macs)}, +${formatParams(res.cost.params)} params at inference (not counted in the backbone's numbers below).\n`);
        process.stdout.write('Note: the saved folder holds the fine-tuned backbone only; saving the PTL branch is not supported yet.\n');
      } finally {
        res.branch.dispose();
      }
    } else {
      r = await fineTune(model, data.fineTune, cfg, hooks, { evaluation: data.evaluation });
      bar.finish();
      after = evaluate ? await snapshot(model, data.evaluation, 'after') : costOnly(model);
    }
    await saveDerived(model, out, {
      derivedFrom: dir,
      fineTuning: { command: `npm run lab -- ${argv.join(' ')}`, data: data.describe, identities: ids, images: data.fineTune.count, steps: r.steps, imagesSeen: r.steps * cfg.p! * cfg.k!, config: cfg, ...(ptlNote ? { ptl: ptlNote } : {}) },
    }, data.dataset.name, after);
    process.stdout.write(`${formatBeforeAfter(before, after)}\nFine-tuned ${r.steps} steps (${r.steps * cfg.p! * cfg.k!} images seen, ${r.imagesPerSec.toFixed(1)} img/s); wrote ${out.given}.\n`);
  } finally {
    model.dispose();
  }
}
