/**
 * What BatchNorm recalibration recovers after pruning, next to short fine-tuning (issue 19):
 *   npx tsx bench/bn-recalibration.ts [--quick] [--criteria l1,taylor,fpgm] [--no-write] [--from-cache]
 * (--from-cache runs nothing: it writes the section from the rows finished so far.)
 *
 * The zoo's ResNet-50 x0.5 on SynthReID S target (the page's default set-up), pruned once to 50%
 * of the MACs (inner scope, local ranking: the page's defaults) with each criterion, then:
 * - BN recalibration: running statistics re-estimated on 256 target training images (forward
 *   only, no labels; engine/train/bn-recalibrate.ts), what the "Recalibrate BN" button does;
 * - 20 fine-tuning steps on the page's default labelled subset (8 training identities x 4
 *   images, P=8 x K=4, Adam 1e-4, seed 1), what the Fine-tune button does by default;
 * - 100 steps: the 20-step model fine-tuned 80 steps more (as pressing Fine-tune again does).
 * Every score is a full evaluation (512 queries, 1,191 gallery images). Seconds are wall clock.
 *
 * Resumable: each criterion's row is kept in runs/bn-recalibration.json.
 * --quick: a random ResNet-50 x0.125 on tier XS (a smoke check of the pipeline, not numbers).
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
import { synthParamsOf } from '../src/engine/eval/card-baseline';
import type { ReidDataset } from '../src/engine/data/types';
import { applyPlan, planPrune } from '../src/engine/prune/plan';
import { CRITERIA } from '../src/engine/prune/criteria';
import { wantsData, type CriterionId } from '../src/engine/prune/criterion';
import { fineTune } from '../src/engine/train/finetune';
import { recalibrateBatchNorm, DEFAULT_RECALIBRATION_IMAGES } from '../src/engine/train/bn-recalibrate';
import { selectFineTuneSubset } from '../src/engine/scenarios/subset';
import { initBackend } from '../src/engine/backend/init';
import { loadModelFromFolder } from '../src/node/model-files';
import { writeSection } from './section';
import { DEFAULT_MODEL_NAME } from '../src/workers/model-source';

const ROOT = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
// The page's default zoo model (zoo v2 since 2026-12-07; the first table was on v1's).
const MODEL_DIR = path.join(ROOT, 'public/models', DEFAULT_MODEL_NAME);
const CACHE = path.join(ROOT, 'runs/bn-recalibration.json');
const HEADING = '## BatchNorm recalibration vs fine-tuning (ResNet-50 at half the MACs)';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const write = !quick && !args.includes('--no-write');
const critArg = args.indexOf('--criteria');
const IDS = (critArg >= 0 ? args[critArg + 1].split(',') : ['l1', 'taylor', 'fpgm']) as CriterionId[];
const fromCache = args.includes('--from-cache');
const SEED = 1;
const LR = 1e-4;
const SUBSET = { identities: 8, imagesPerIdentity: 4, seed: 1 };

interface Scored {
  mAP: number;
  rank1: number;
  /** Seconds of the step that made this model (prune, recalibration, fine-tuning). */
  seconds: number;
}

interface Row {
  criterion: CriterionId;
  macs: number;
  pruned: Scored;
  recalibrated: Scored & { images: number };
  ft20: Scored;
  ft100: Scored;
  load: string;
}

interface Cache {
  key: string;
  dense?: { mAP: number; rank1: number; macs: number };
  rows: Record<string, Row>;
}

async function score(model: ReidModel, d: ReidDataset): Promise<{ mAP: number; rank1: number }> {
  const r = await evaluateModel(model, { query: d.query, gallery: d.gallery }, { batchSize: 32 });
  return { mAP: r.mAP, rank1: r.rank1 };
}

const pct = (v: number) => (100 * v).toFixed(1);
const load = () => os.loadavg()[0].toFixed(1);

async function main(): Promise<void> {
  await initBackend('wasm');
  const model = quick
    ? ReidModel.init(buildSpec({ depth: 50, widthMultiplier: 0.125, inputHeight: 64, inputWidth: 32 }), SEED)
    : (await loadModelFromFolder(MODEL_DIR)).model;
  const key = quick ? 'quick' : `${DEFAULT_MODEL_NAME}|${readFileSync(path.join(MODEL_DIR, 'card.json'), 'utf8').length}|${LR}|${SEED}`;
  const { height, width } = model.spec.input;
  const d = generateSynthReid(synthParamsOf({ tier: quick ? 'XS' : 'S', domain: 'target', height, width })).dataset;
  const subset = selectFineTuneSubset(d, SUBSET);
  let cache: Cache = existsSync(CACHE) && !quick ? (JSON.parse(readFileSync(CACHE, 'utf8')) as Cache) : { key, rows: {} };
  if (cache.key !== key) cache = { key, rows: {} };
  const save = () => {
    if (quick) return;
    mkdirSync(path.dirname(CACHE), { recursive: true });
    writeFileSync(`${CACHE}.tmp`, JSON.stringify(cache, null, 1));
    renameSync(`${CACHE}.tmp`, CACHE);
  };
  if (!cache.dense) {
    cache.dense = { ...(await score(model, d)), macs: modelCost(model.spec).macs };
    save();
  }
  console.log(`dense: ${formatMacs(cache.dense.macs)}, mAP ${pct(cache.dense.mAP)}, R1 ${pct(cache.dense.rank1)} (load ${load()})`);
  const ftConfig = (steps: number) => ({ steps, seed: SEED, p: 8, k: 4, optimizer: { lr: LR } });
  const evaluation = { evaluation: { query: d.query, gallery: d.gallery } };
  for (const id of IDS) {
    if (cache.rows[id] || fromCache) continue;
    const c = CRITERIA[id];
    const data = wantsData(c) ? { split: subset, batches: 2, batchSize: Math.min(16, subset.count) } : undefined;
    const l0 = load();
    let t = performance.now();
    const plan = await planPrune(model, c, { criterion: id, macsTarget: 0.5, scope: 'inner', seed: SEED }, { data });
    const pruned = await applyPlan(model, plan, { criterion: c, data });
    const pruneS = (performance.now() - t) / 1000;
    const recal = await pruned.clone();
    try {
      const prunedScore = { ...(await score(pruned, d)), seconds: pruneS };
      t = performance.now();
      const r = await recalibrateBatchNorm(recal, d.train, { images: DEFAULT_RECALIBRATION_IMAGES, seed: SEED });
      const recalS = (performance.now() - t) / 1000;
      const recalScore = { ...(await score(recal, d)), seconds: recalS, images: r.images };
      t = performance.now();
      await fineTune(pruned, subset, ftConfig(20), {}, evaluation);
      const ft20S = (performance.now() - t) / 1000;
      const ft20 = { ...(await score(pruned, d)), seconds: ft20S };
      t = performance.now();
      await fineTune(pruned, subset, ftConfig(80), {}, evaluation);
      const ft100 = { ...(await score(pruned, d)), seconds: ft20S + (performance.now() - t) / 1000 };
      cache.rows[id] = { criterion: id, macs: modelCost(pruned.spec).macs, pruned: prunedScore, recalibrated: recalScore, ft20, ft100, load: `${l0}-${load()}` };
    } finally {
      pruned.dispose();
      recal.dispose();
    }
    const row = cache.rows[id];
    console.log(
      `${id}: pruned ${pct(row.pruned.mAP)} (${row.pruned.seconds.toFixed(1)} s) | BN ${pct(row.recalibrated.mAP)} (${row.recalibrated.seconds.toFixed(1)} s) | ft20 ${pct(row.ft20.mAP)} (${row.ft20.seconds.toFixed(0)} s) | ft100 ${pct(row.ft100.mAP)} (${row.ft100.seconds.toFixed(0)} s) | load ${row.load}`,
    );
    save();
  }
  model.dispose();
  if (!write) return;
  const dense = cache.dense;
  const cell = (s: Scored) => `${pct(s.mAP)} / ${pct(s.rank1)}`;
  const rows = IDS.filter((id) => cache.rows[id]).map((id) => {
    const r = cache.rows[id];
    return `| ${CRITERIA[id].name} | ${formatMacs(r.macs)} | ${cell(r.pruned)} | ${cell(r.recalibrated)} | ${r.recalibrated.seconds.toFixed(1)} | ${cell(r.ft20)} | ${r.ft20.seconds.toFixed(0)} | ${cell(r.ft100)} | ${r.ft100.seconds.toFixed(0)} | ${r.load} |`;
  });
  const cpu = os.cpus();
  writeSection(
    HEADING,
    [
      HEADING,
      '',
      `Measured ${new Date().toISOString().slice(0, 10)} with \`npx tsx bench/bn-recalibration.ts\` on ${cpu[0]?.model ?? 'unknown CPU'}, ${cpu.length} cores (shared with other jobs: the 1-minute load average per row is in the last column), Node ${process.version}, tfjs ${tf.version.tfjs} (wasm, single-threaded). Model: public/models/${DEFAULT_MODEL_NAME} (the page's default), dense ${formatMacs(dense.macs)}, mAP ${pct(dense.mAP)} / rank-1 ${pct(dense.rank1)} on SynthReID S target (full evaluation: ${d.query.count} queries, ${d.gallery.count} gallery images).`,
      '',
      `Pruned once to 50% of the MACs (inner scope, local ranking). BN recalibration: forward passes over ${DEFAULT_RECALIBRATION_IMAGES} target training images (no labels), batch 32. Fine-tuning: the page's default subset (${SUBSET.identities} training identities x ${SUBSET.imagesPerIdentity} images), P=8 x K=4, Adam ${LR}, seed ${SEED}; 100 steps = the 20-step model fine-tuned 80 steps more. Scores are mAP / rank-1 (%); seconds are wall clock for the recovery step alone (evaluation excluded).`,
      '',
      '| Criterion | MACs after | Pruned | + BN recalibration | BN s | + 20 steps | 20 steps s | + 100 steps | 100 steps s | Load |',
      '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
      ...rows,
      '',
      ...IDS.filter((id) => cache.rows[id]).map((id) => {
        const r = cache.rows[id];
        const above = r.recalibrated.mAP > dense.mAP;
        return `- ${CRITERIA[id].name}: BN recalibration took mAP from ${pct(r.pruned.mAP)} to ${pct(r.recalibrated.mAP)} in ${r.recalibrated.seconds.toFixed(0)} s (no labels, no gradients)${above ? `, above the dense model's ${pct(dense.mAP)}, whose BatchNorm statistics are still those of the source domain it was trained on; re-estimating them on target images adapts them to the target too (AdaBN's effect): a likely reason, not one this bench isolates` : ''}; 20 fine-tuning steps reached ${pct(r.ft20.mAP)} in ${r.ft20.seconds.toFixed(0)} s and 100 steps ${pct(r.ft100.mAP)} in ${r.ft100.seconds.toFixed(0)} s.`;
      }),
      '',
      ...(IDS.some((id) => !cache.rows[id])
        ? [`Not measured yet: ${IDS.filter((id) => !cache.rows[id]).map((id) => CRITERIA[id].name).join(', ')} (they did not finish on this shared machine before this section was written; \`npx tsx bench/bn-recalibration.ts\` resumes from runs/bn-recalibration.json).`, '']
        : []),
    ].join('\n'),
  );
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
