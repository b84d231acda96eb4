/**
 * Every criterion on the shipped ResNet-50, the measured result of the criteria issue:
 *   npx tsx bench/criteria-accuracy.ts [--quick] [--steps N] [--no-write]
 *
 * Prune once to half the MACs (inner scope, the lab's default settings otherwise), then the
 * same short fine-tune on the SynthReID source training split for every criterion (same seed,
 * same batches), and evaluate on the source test split before pruning, right after pruning and
 * after the fine-tune. Times the scoring (plan) and the surgery (apply) separately.
 *
 * Resumable: each criterion's row is kept in runs/criteria-accuracy.json under a key of the
 * model's card and the settings, so an interrupted run continues where it stopped.
 * --quick runs a tiny random-init model on tier XS (a smoke check of the pipeline, not numbers).
 */
import * as tf from '@tensorflow/tfjs';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildSpec } from '../src/engine/model/spec';
import { ReidModel } from '../src/engine/model/model';
import { modelCost, formatMacs } from '../src/engine/cost/macs';
import { evaluateModel } from '../src/engine/eval/evaluate';
import { generateSynthReid } from '../src/engine/data/synth';
import type { ReidDataset } from '../src/engine/data/types';
import { applyPlan, planPrune } from '../src/engine/prune/plan';
import { CRITERIA } from '../src/engine/prune/criteria';
import { wantsData, type CriterionData, type CriterionId } from '../src/engine/prune/criterion';
import { fineTune } from '../src/engine/train/finetune';
import { initBackend } from '../src/engine/backend/init';
import { loadModelFromFolder } from '../src/node/model-files';
import { writeSection } from './section';

const ROOT = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const MODEL_DIR = path.join(ROOT, 'public/models/resnet50-w0.5');
const CACHE = path.join(ROOT, 'runs/criteria-accuracy.json');
const HEADING = '## Criteria at half the MACs (shipped ResNet-50)';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const write = !quick && !args.includes('--no-write');
const stepsArg = args.indexOf('--steps');
const STEPS = stepsArg >= 0 ? Number(args[stepsArg + 1]) : quick ? 2 : 60;
const P = 8;
const K = 4;
const LR = 1e-4;
const SEED = 1;
const CRITERION_DATA = { batches: 4, batchSize: 32 };

interface Score {
  mAP: number;
  rank1: number;
}

interface Row {
  criterion: CriterionId;
  macs: number;
  params: number;
  planSeconds: number;
  applySeconds: number;
  pruned: Score;
  fineTuned: Score;
  fineTuneSeconds: number;
}

interface Cache {
  key: string;
  dense?: Score & { macs: number; params: number };
  rows: Record<string, Row>;
}

async function score(model: ReidModel, d: ReidDataset): Promise<Score> {
  const r = await evaluateModel(model, { query: d.query, gallery: d.gallery });
  return { mAP: r.mAP, rank1: r.rank1 };
}

const pct = (v: number) => (100 * v).toFixed(1);

async function main(): Promise<void> {
  await initBackend('wasm');
  let model: ReidModel;
  let key: string;
  let describe: string;
  if (quick) {
    model = ReidModel.init(buildSpec({ depth: 50, widthMultiplier: 0.125, inputHeight: 64, inputWidth: 32 }), SEED);
    key = 'quick';
    describe = 'a random-init ResNet-50 x0.125 at 64x32 (quick mode)';
  } else {
    model = (await loadModelFromFolder(MODEL_DIR)).model;
    const card = readFileSync(path.join(MODEL_DIR, 'card.json'), 'utf8');
    const steps = (JSON.parse(card) as { training: { steps: number } }).training.steps;
    key = `${steps}|${STEPS}|${P}x${K}|${LR}|${SEED}`;
    describe = `public/models/resnet50-w0.5 (trained ${steps} steps)`;
  }
  const { height, width } = model.spec.input;
  const { dataset } = generateSynthReid({ tier: quick ? 'XS' : 'S', domain: 'source', height, width });
  let cache: Cache = existsSync(CACHE) && !quick ? (JSON.parse(readFileSync(CACHE, 'utf8')) as Cache) : { key, rows: {} };
  if (cache.key !== key) cache = { key, rows: {} };
  const save = () => {
    if (quick) return;
    mkdirSync(path.dirname(CACHE), { recursive: true });
    writeFileSync(`${CACHE}.tmp`, JSON.stringify(cache, null, 1));
    renameSync(`${CACHE}.tmp`, CACHE);
  };
  const denseCost = modelCost(model.spec);
  if (!cache.dense) {
    cache.dense = { ...(await score(model, dataset)), macs: denseCost.macs, params: denseCost.params };
    save();
  }
  console.log(`dense: ${formatMacs(denseCost.macs)}, mAP ${pct(cache.dense.mAP)}, R1 ${pct(cache.dense.rank1)}`);
  const data: CriterionData = { split: dataset.train, ...CRITERION_DATA };
  const ids = (quick ? ['l1', 'entropy'] : Object.keys(CRITERIA)) as CriterionId[];
  for (const id of ids) {
    if (cache.rows[id]) continue;
    const c = CRITERIA[id];
    const givesData = wantsData(c);
    const t0 = performance.now();
    const plan = await planPrune(model, c, { criterion: id, macsTarget: 0.5, scope: 'inner', seed: SEED }, { data: givesData ? data : undefined });
    const t1 = performance.now();
    const pruned = await applyPlan(model, plan, { criterion: c, data: givesData ? data : undefined });
    const t2 = performance.now();
    try {
      const after = await score(pruned, dataset);
      const t3 = performance.now();
      await fineTune(pruned, dataset.train, { steps: STEPS, seed: SEED, p: P, k: K, optimizer: { kind: 'adam', lr: LR } }, {}, { evaluation: { query: dataset.query, gallery: dataset.gallery } });
      const t4 = performance.now();
      const cost = modelCost(pruned.spec);
      cache.rows[id] = {
        criterion: id,
        macs: cost.macs,
        params: cost.params,
        planSeconds: (t1 - t0) / 1000,
        applySeconds: (t2 - t1) / 1000,
        pruned: after,
        fineTuned: await score(pruned, dataset),
        fineTuneSeconds: (t4 - t3) / 1000,
      };
    } finally {
      pruned.dispose();
    }
    const r = cache.rows[id];
    console.log(`${id}: plan ${r.planSeconds.toFixed(2)} s, apply ${r.applySeconds.toFixed(2)} s, pruned mAP ${pct(r.pruned.mAP)} R1 ${pct(r.pruned.rank1)} -> fine-tuned mAP ${pct(r.fineTuned.mAP)} R1 ${pct(r.fineTuned.rank1)}`);
    save();
  }
  model.dispose();
  if (!write) return;
  const d = cache.dense;
  const rows = ids.map((id) => {
    const r = cache.rows[id];
    return `| ${CRITERIA[id].name} (\`${id}\`) | ${CRITERIA[id].needs}${CRITERIA[id].usesDataWhenGiven ? ' (images when given; given here)' : ''} | ${formatMacs(r.macs)} | ${(r.params / 1e6).toFixed(2)} M | ${r.planSeconds.toFixed(2)} | ${r.applySeconds.toFixed(2)} | ${pct(r.pruned.mAP)} / ${pct(r.pruned.rank1)} | ${pct(r.fineTuned.mAP)} / ${pct(r.fineTuned.rank1)} | ${(100 * (r.fineTuned.rank1 - d.rank1)).toFixed(1)} |`;
  });
  const cpu = os.cpus();
  writeSection(
    HEADING,
    [
      HEADING,
      '',
      `Measured ${new Date().toISOString().slice(0, 10)} with \`npx tsx bench/criteria-accuracy.ts\` on ${cpu[0]?.model ?? 'unknown CPU'}, ${cpu.length} cores, Node ${process.version}, tfjs ${tf.version.tfjs} (wasm, single-threaded). Model: ${describe}. Evaluated on SynthReID S source test split (${dataset.query.count} queries, ${dataset.gallery.count} gallery images).`,
      '',
      `Dense: ${formatMacs(d.macs)}, ${(d.params / 1e6).toFixed(2)} M params, mAP ${pct(d.mAP)} / rank-1 ${pct(d.rank1)}. Each criterion prunes once to 50% of the MACs (inner scope, local ranking, l2 normalisation, floor 1; the lab's defaults), then fine-tunes ${STEPS} steps of P=${P} x K=${K} (Adam ${LR}, seed ${SEED}) on the source training split. Data-driven criteria see ${CRITERION_DATA.batches} batches of ${CRITERION_DATA.batchSize} training images. Plan = scoring + ranking + reaching the target; apply = surgery (+ least-squares reconstruction for ThiNet and channel pruning). Seconds wall clock, on a 2-core machine shared with other jobs.`,
      '',
      '| Criterion | Needs | MACs after | Params after | Plan s | Apply s | Pruned mAP / R1 | Fine-tuned mAP / R1 | R1 vs dense (points) |',
      '|---|---|---:|---:|---:|---:|---:|---:|---:|',
      ...rows,
      '',
    ].join('\n'),
  );
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
