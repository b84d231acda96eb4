/**
 * PTL vs plain fine-tuning of a pruned ResNet-50 on the SynthReID target domain.
 *
 *   npx tsx bench/ptl.ts [--model public/models/resnet50-w0.5] [--tier S] [--steps 200]
 *                        [--seeds 1,2,3] [--macs 0.5] [--criterion l1] [--json out.json]
 *   npx tsx bench/ptl.ts --smoke --tier XS --steps 4 --seeds 1,2,3   (no zoo model needed)
 *
 * The zoo model (trained on the source domain) is pruned once to the given share of its MACs
 * (default half, Hao Li's l1 criterion, inner groups), then for every seed fine-tuned twice on
 * the target domain's training split with the same budget (same steps, batches, learning rate,
 * schedule and seed): plainly (train/finetune.ts) and with PTL's side branch
 * (ptl/ptl-finetune.ts). Both are scored on the target query/gallery (Market-1501 protocol,
 * Euclidean, no flip), which share no identity with the training split. Reports mean ± sample
 * std over seeds of mAP and rank-1, the pruned model before fine-tuning, wall time per run,
 * and the branch's extra MACs/params.
 *
 * Without the zoo model it stops with a clear message; `--smoke` then runs the same pipeline on
 * a seeded, untrained ResNet-50 so the script can be checked end to end. Smoke numbers say the
 * script works, nothing about PTL.
 */
import * as os from 'node:os';
import { existsSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/engine/backend/init';
import { buildSpec } from '../src/engine/model/spec';
import { ReidModel } from '../src/engine/model/model';
import type { ParamArrays } from '../src/engine/model/init';
import { loadModelFromFolder, MODEL_JSON } from '../src/node/model-files';
import { generateSynthReid, type SynthTier } from '../src/engine/data/synth';
import { getCriterion } from '../src/engine/prune/criteria';
import { pruneOnce } from '../src/engine/prune/strategies/once';
import { modelCost, formatMacs, formatParams } from '../src/engine/cost/macs';
import { evaluateModel, type EvaluationResult } from '../src/engine/eval/evaluate';
import type { Embedder } from '../src/engine/eval/extract';
import { fineTune } from '../src/engine/train/finetune';
import { fineTunePtl } from '../src/engine/ptl/ptl-finetune';
import { ptlCost } from '../src/engine/ptl/ptl-cost';
import type { PtlConfigInput } from '../src/engine/ptl/side-branch';
import type { TrainConfigInput } from '../src/engine/train/config';
import { arg, flag } from './args';

interface Run {
  arm: 'plain' | 'ptl';
  seed: number;
  mAP: number;
  rank1: number;
  wallSec: number;
  firstLoss: number;
  lastLoss: number;
}

function meanStd(xs: number[]): { mean: number; std: number } {
  const m = xs.reduce((a, b) => a + b, 0) / xs.length;
  const v = xs.length > 1 ? xs.reduce((a, b) => a + (b - m) ** 2, 0) / (xs.length - 1) : 0;
  return { mean: m, std: Math.sqrt(v) };
}

const pct = (v: number) => (100 * v).toFixed(1);

async function main(): Promise<void> {
  const modelDir = arg('model', 'public/models/resnet50-w0.5');
  const smoke = flag('smoke');
  const tier = arg('tier', 'S') as SynthTier;
  const steps = Number(arg('steps', '200'));
  const seeds = arg('seeds', '1,2,3').split(',').map(Number);
  const macsKeep = Number(arg('macs', '0.5'));
  const criterionId = arg('criterion', 'l1');
  const p = Number(arg('p', '8'));
  const k = Number(arg('k', '4'));
  const lr = Number(arg('lr', '1e-4'));
  const ptl: PtlConfigInput = { cellRatio: Number(arg('cell-ratio', '0.25')), fuseInto: arg('fuse-into', 'last') as 'last' | 'every' };
  const jsonOut = arg('json', '');

  await initBackend('wasm');
  let model: ReidModel;
  let source: string;
  let untrained = false;
  if (existsSync(path.join(modelDir, MODEL_JSON))) {
    model = (await loadModelFromFolder(modelDir)).model;
    source = modelDir;
  } else if (smoke) {
    const width = Number(arg('smoke-width', '0.25'));
    model = ReidModel.init(buildSpec({ depth: 50, widthMultiplier: width, inputHeight: 128, inputWidth: 64 }), 1, { zeroInitResidual: true });
    untrained = true;
    source = `UNTRAINED seeded ResNet-50 x${width} (--smoke: the zoo model ${modelDir} is missing)`;
  } else {
    process.stderr.write(
      `The zoo model is missing: expected ${path.join(modelDir, MODEL_JSON)}, found nothing there.\n` +
        `Train it first (npm run lab -- train --depth 50 --width 0.5 --out ${modelDir}), pass --model DIR, ` +
        `or add --smoke to check this script on an untrained ResNet-50 (its numbers say nothing about PTL).\n`,
    );
    process.exit(2);
  }
  const { height, width } = model.spec.input;
  process.stderr.write(`Model: ${source} (${formatMacs(modelCost(model.spec).macs)}, ${formatParams(modelCost(model.spec).params)} params)\n`);

  const { dataset } = generateSynthReid({ tier, domain: 'target', height, width });
  const evalSet = { query: dataset.query, gallery: dataset.gallery };
  const evaluation = evalSet; // fine-tuning identities must not be scored on (checked)
  process.stderr.write(`SynthReID ${tier}/target: ${dataset.train.count} training images, ${dataset.query.count} query, ${dataset.gallery.count} gallery.\n`);

  // Prune once; every run starts from these arrays.
  const pruned = await pruneOnce(model, { criterion: getCriterion(criterionId), settings: { criterion: criterionId as never, macsTarget: macsKeep, seed: 1 } });
  const prunedSpec = pruned.model.spec;
  const prunedArrays: ParamArrays = await pruned.model.toArrays();
  const before = await evaluateModel(pruned.model, evalSet);
  const full = await evaluateModel(model, evalSet);
  pruned.model.dispose();
  model.dispose();
  const costPruned = modelCost(prunedSpec);
  const branchCost = ptlCost(prunedSpec, ptl);
  process.stderr.write(
    `Pruned to ${formatMacs(costPruned.macs)} (${pct(pruned.after.macs / pruned.before.macs)}% of the MACs), ${formatParams(costPruned.params)} params. ` +
      `Before fine-tuning: mAP ${pct(before.mAP)}, rank-1 ${pct(before.rank1)} (unpruned: ${pct(full.mAP)} / ${pct(full.rank1)}).\n`,
  );

  const loadStart = os.loadavg()[0];
  const runs: Run[] = [];
  for (const seed of seeds) {
    const config: TrainConfigInput = { steps, seed, p, k, optimizer: { kind: 'adam', lr } };
    for (const arm of ['plain', 'ptl'] as const) {
      const m = ReidModel.fromArrays(prunedSpec, prunedArrays);
      const t0 = performance.now();
      let scored: EvaluationResult;
      let losses: number[];
      if (arm === 'plain') {
        const res = await fineTune(m, dataset.train, config, {}, { evaluation });
        losses = res.history.map((h) => h.loss);
        scored = await evaluateModel(m, evalSet);
      } else {
        const res = await fineTunePtl(m, dataset.train, config, {}, { evaluation, ptl: { ...ptl, seed } });
        losses = res.history.map((h) => h.loss);
        const embedder: Embedder = res.branch.embedder(m);
        scored = await evaluateModel(embedder, evalSet);
        res.branch.dispose();
      }
      const wallSec = (performance.now() - t0) / 1000;
      m.dispose();
      const run: Run = { arm, seed, mAP: scored.mAP, rank1: scored.rank1, wallSec, firstLoss: losses[0], lastLoss: losses[losses.length - 1] };
      runs.push(run);
      process.stderr.write(`seed ${seed} ${arm.padEnd(5)}: mAP ${pct(run.mAP)}, rank-1 ${pct(run.rank1)}, loss ${run.firstLoss.toFixed(3)} -> ${run.lastLoss.toFixed(3)}, ${wallSec.toFixed(0)} s\n`);
    }
  }
  const loadEnd = os.loadavg()[0];

  const summary = (['plain', 'ptl'] as const).map((arm) => {
    const rs = runs.filter((r) => r.arm === arm);
    return { arm, mAP: meanStd(rs.map((r) => r.mAP)), rank1: meanStd(rs.map((r) => r.rank1)), wallSec: meanStd(rs.map((r) => r.wallSec)) };
  });
  const lines = [
    `| fine-tuning | mAP (%) | rank-1 (%) | wall s / run | extractor MACs | params |`,
    `|---|---|---|---|---|---|`,
    `| none (pruned, before fine-tuning) | ${pct(before.mAP)} | ${pct(before.rank1)} | - | ${formatMacs(costPruned.macs)} | ${formatParams(costPruned.params)} |`,
    ...summary.map(
      (s) =>
        `| ${s.arm === 'plain' ? 'plain' : `PTL (cells ${ptl.cellRatio}x, fuse into ${ptl.fuseInto})`} | ${pct(s.mAP.mean)} ± ${pct(s.mAP.std)} | ${pct(s.rank1.mean)} ± ${pct(s.rank1.std)} | ${s.wallSec.mean.toFixed(0)} | ` +
        (s.arm === 'plain' ? `${formatMacs(costPruned.macs)} | ${formatParams(costPruned.params)} |` : `${formatMacs(costPruned.macs + branchCost.macs)} (+${formatMacs(branchCost.macs)} branch) | ${formatParams(costPruned.params + branchCost.params)} (+${formatParams(branchCost.params)}) |`),
    ),
  ];
  const note =
    `Model: ${source}; pruned once with ${criterionId} to ${pct(macsKeep)}% of the MACs (inner groups). SynthReID ${tier}/target, ${steps} steps of P=${p} x K=${k}, Adam lr ${lr} (cosine), ` +
    `seeds ${seeds.join(', ')} (mean ± sample std over seeds). Unpruned model: mAP ${pct(full.mAP)}, rank-1 ${pct(full.rank1)}. ` +
    `tfjs ${tf.getBackend()} in Node ${process.version}; ${os.cpus()[0]?.model ?? 'CPU'} x${os.cpus().length}; 1-minute load average ${loadStart.toFixed(1)} at the start of fine-tuning, ${loadEnd.toFixed(1)} at the end.`;
  process.stdout.write(`${lines.join('\n')}\n\n${note}\n`);
  if (jsonOut) writeFileSync(jsonOut, JSON.stringify({ source, untrained, tier, steps, seeds, macsKeep, criterionId, p, k, lr, ptl, before, full: { mAP: full.mAP, rank1: full.rank1 }, branchCost: { macs: branchCost.macs, params: branchCost.params }, runs, summary, note }, null, 2));
}

main().catch((e) => {
  process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
