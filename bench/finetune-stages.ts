/**
 * Fine-tuning the last stages only vs the whole network, on the shipped ResNet-50 pruned to
 * half its MACs (L1 and Taylor): recovered mAP and speed at the same budget in images.
 *
 *   npx tsx bench/finetune-stages.ts [--steps 40] [--seeds 1,2,3] [--from 0,3] [--quick] [--no-write]
 *
 * Each criterion prunes the zoo model once (inner scope, local ranking, seed 1; Taylor sees 4
 * batches of 32 source training images), then for each seed and each first trained stage
 * (0 = whole network) the pruned model fine-tunes `steps` steps of P=8 x K=4 (Adam 1e-4) on
 * the SynthReID S target training split, and is scored on the target test split. The seed is
 * the fine-tune's (batches, augmentation); the pruning is the same for every seed.
 * Resumable: finished runs are kept in runs/finetune-stages.json; --report runs nothing and
 * writes the table from the seeds that finished both settings. --quick: a tiny random-init
 * model on tier XS, 2 steps (pipeline smoke check, not numbers).
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
import { wantsData, type CriterionId } from '../src/engine/prune/criterion';
import { fineTune } from '../src/engine/train/finetune';
import { initBackend } from '../src/engine/backend/init';
import { loadModelFromFolder } from '../src/node/model-files';
import { writeSection } from './section';

const ROOT = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const MODEL_DIR = path.join(ROOT, 'public/models/resnet50-w0.5');
const CACHE = path.join(ROOT, 'runs/finetune-stages.json');
const HEADING = '## Fine-tuning the last stages only (pruned ResNet-50)';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const reportOnly = args.includes('--report');
const write = !quick && !args.includes('--no-write');
const opt = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1] : fallback;
};
const STEPS = Number(opt('steps', quick ? '2' : '40'));
const SEEDS = opt('seeds', quick ? '1' : '1,2,3').split(',').map(Number);
const FROM = opt('from', '0,3').split(',').map(Number);
const CRITERIA_RUN: CriterionId[] = ['l1', 'taylor'];
const P = 8;
const K = 4;
const LR = 1e-4;

interface Run {
  mAP: number;
  rank1: number;
  seconds: number;
  imagesPerSec: number;
  load: number;
}

interface Cache {
  key: string;
  pruned: Record<string, { mAP: number; rank1: number; macs: number }>;
  runs: Record<string, Run>;
}

async function score(model: ReidModel, d: ReidDataset): Promise<{ mAP: number; rank1: number }> {
  const r = await evaluateModel(model, { query: d.query, gallery: d.gallery });
  return { mAP: r.mAP, rank1: r.rank1 };
}

const pct = (v: number) => (100 * v).toFixed(1);
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const std = (xs: number[]) => (xs.length < 2 ? 0 : Math.sqrt(xs.reduce((a, b) => a + (b - mean(xs)) ** 2, 0) / (xs.length - 1)));
const fromLabel = (f: number) => (f === 0 ? 'whole network' : `layer${f} onwards`);

async function main(): Promise<void> {
  await initBackend('wasm');
  const model = quick ? ReidModel.init(buildSpec({ depth: 50, widthMultiplier: 0.125, inputHeight: 64, inputWidth: 32 }), 1) : (await loadModelFromFolder(MODEL_DIR)).model;
  const { height, width } = model.spec.input;
  const tier = quick ? 'XS' : 'S';
  const source = generateSynthReid({ tier, domain: 'source', height, width }).dataset;
  const target = generateSynthReid({ tier, domain: 'target', height, width }).dataset;
  const key = quick ? 'quick' : `${STEPS}|${P}x${K}|${LR}`;
  let cache: Cache = existsSync(CACHE) && !quick ? (JSON.parse(readFileSync(CACHE, 'utf8')) as Cache) : { key, pruned: {}, runs: {} };
  if (cache.key !== key) cache = { key, pruned: {}, runs: {} };
  const save = () => {
    if (quick) return;
    mkdirSync(path.dirname(CACHE), { recursive: true });
    writeFileSync(`${CACHE}.tmp`, JSON.stringify(cache, null, 1));
    renameSync(`${CACHE}.tmp`, CACHE);
  };
  // Prune once per criterion, then seed-major order, so an interrupted run has every
  // criterion and both settings for its first seeds.
  const pruned = new Map<CriterionId, ReidModel>();
  try {
    for (const id of reportOnly ? [] : CRITERIA_RUN) {
      const c = CRITERIA[id];
      const data = wantsData(c) ? { split: source.train, batches: 4, batchSize: 32 } : undefined;
      const plan = await planPrune(model, c, { criterion: id, macsTarget: 0.5, scope: 'inner', seed: 1 }, { data });
      const p = await applyPlan(model, plan, { criterion: c, data });
      pruned.set(id, p);
      if (!cache.pruned[id]) {
        cache.pruned[id] = { ...(await score(p, target)), macs: modelCost(p.spec).macs };
        save();
      }
      console.log(`${id}: pruned to ${formatMacs(cache.pruned[id].macs)}, target mAP ${pct(cache.pruned[id].mAP)}`);
    }
    for (const seed of reportOnly ? [] : SEEDS) {
      for (const id of CRITERIA_RUN) {
        for (const from of FROM) {
          const runKey = `${id}|${seed}|${from}`;
          if (cache.runs[runKey]) continue;
          const m = await pruned.get(id)!.clone();
          try {
            const load = os.loadavg()[0];
            const t0 = performance.now();
            const r = await fineTune(m, target.train, { steps: STEPS, seed, p: P, k: K, optimizer: { kind: 'adam', lr: LR }, trainFromStage: from }, {}, { evaluation: { query: target.query, gallery: target.gallery } });
            const seconds = (performance.now() - t0) / 1000;
            cache.runs[runKey] = { ...(await score(m, target)), seconds, imagesPerSec: r.imagesPerSec, load };
          } finally {
            m.dispose();
          }
          const r = cache.runs[runKey];
          console.log(`${id} seed ${seed} ${fromLabel(from)}: mAP ${pct(r.mAP)} R1 ${pct(r.rank1)}, ${r.seconds.toFixed(0)} s (${r.imagesPerSec.toFixed(1)} img/s, load ${r.load.toFixed(1)})`);
          save();
        }
      }
    }
  } finally {
    for (const p of pruned.values()) p.dispose();
  }
  model.dispose();
  const rows: string[] = [];
  for (const id of CRITERIA_RUN) {
    for (const from of FROM) {
      // Seeds that finished both settings, so the two rows compare the same seeds.
      const done = SEEDS.filter((s) => FROM.every((f) => cache.runs[`${id}|${s}|${f}`]));
      const runs = done.map((s) => cache.runs[`${id}|${s}|${from}`]);
      if (runs.length === 0 || !cache.pruned[id]) continue;
      const full = done.map((s) => cache.runs[`${id}|${s}|0`]).filter((r): r is Run => r !== undefined);
      const maps = runs.map((r) => 100 * r.mAP);
      const speed = full.length > 0 && runs.length > 0 && from !== 0 ? `${(mean(full.map((r) => r.seconds)) / mean(runs.map((r) => r.seconds))).toFixed(2)}x` : '-';
      rows.push(
        `| ${CRITERIA[id].name} | ${pct(cache.pruned[id].mAP)} | ${fromLabel(from)} | ${runs.length} | ${mean(maps).toFixed(1)} ± ${std(maps).toFixed(1)} | ${mean(runs.map((r) => 100 * r.rank1)).toFixed(1)} | ${mean(runs.map((r) => r.seconds)).toFixed(0)} | ${mean(runs.map((r) => r.imagesPerSec)).toFixed(1)} | ${speed} |`,
      );
    }
  }
  const table = ['| Criterion | Pruned mAP | Trained | Seeds | Fine-tuned mAP (mean ± sd) | Rank-1 | Seconds | img/s | Speed vs whole |', '|---|---:|---|---:|---:|---:|---:|---:|---:|', ...rows].join('\n');
  console.log(`\n${table}`);
  if (!write) return;
  const cpu = os.cpus();
  writeSection(
    HEADING,
    [
      HEADING,
      '',
      `Measured ${new Date().toISOString().slice(0, 10)} with \`npx tsx bench/finetune-stages.ts --steps ${STEPS} --seeds ${SEEDS.join(',')} --from ${FROM.join(',')}\` (seeds that finished both settings: ${SEEDS.filter((sd) => CRITERIA_RUN.every((id) => FROM.every((f) => cache.runs[`${id}|${sd}|${f}`]))).join(', ') || 'none'}) on ${cpu[0]?.model ?? 'unknown CPU'}, ${cpu.length} cores, Node ${process.version}, tfjs ${tf.version.tfjs} (wasm, single-threaded). Zoo v1's ResNet-50 x0.5 (public/models/resnet50-w0.5) pruned once to 50% of its MACs (inner scope, local ranking, seed 1; Taylor sees 4 batches of 32 source training images), then fine-tuned ${STEPS} steps of P=${P} x K=${K} (${STEPS * P * K} images, Adam ${LR}, triplet loss) on the SynthReID S target training split and scored on the target test split (${target.query.count} queries, ${target.gallery.count} gallery images). "layerN onwards" freezes the stem and the stages before N (BatchNorm there on its running statistics). The seed is the fine-tune's; the pruning is the same for every seed. Seconds and img/s are wall clock on a 2-core machine shared with other jobs (1-minute load average at each run's start: ${Object.values(cache.runs).map((r) => r.load.toFixed(1)).join(', ')}), so they are indicative; bench/train-profile.ts --freeze N measures the step in CPU time.`,
      '',
      table,
      '',
    ].join('\n'),
  );
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
