/**
 * Where a training step's time goes, per tfjs kernel (tf.profile; on wasm a kernel's time is
 * the wall time of its synchronous call). Batch 32 (P=8 x K=4) at 128x64, Node wasm, one thread.
 *
 *   npx tsx bench/train-profile.ts [--models r18-0.5,r50-0.5] [--variants old,new] [--steps 2] [--freeze N] [--quick] [--json out.json]
 *
 * For each model: a warm-up step, then `steps` unprofiled trainer steps (the whole step:
 * sampling, augmentation, forward, backward, Adam, BN statistics) interleaved with eval
 * forwards of the same batch size, timed in wall and CPU time (the step ÷ forward ratio the
 * issue's goal is stated in, in CPU time because the machine is shared), then `steps` profiled
 * steps. Prints per kernel: ms per step, share of the kernel total, calls per step, and with
 * both variants an old-vs-new table. "old" switches the fused training ops off
 * (setFusedTrainOps(false): plain-op BatchNorm, the general conv gradient), i.e. the step as it
 * was before issue #21; "new" is today's. `--freeze N` trains layerN onwards only. `--quick`
 * (CI smoke) profiles a tiny ResNet-18 x0.125 at 64x32, new variant only.
 */
import * as os from 'node:os';
import { writeFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/engine/backend/init';
import { buildSpec, type Depth } from '../src/engine/model/spec';
import { ReidModel } from '../src/engine/model/model';
import { Trainer } from '../src/engine/train/trainer';
import { Prng } from '../src/engine/util/prng';
import { setFusedTrainOps } from '../src/engine/model/fused-train-ops';
import type { ReidSplit } from '../src/engine/data/types';

const P = 8;
const K = 4;

export interface KernelRow {
  kernel: string;
  msPerStep: number;
  share: number;
  callsPerStep: number;
}

/** "old": the plain-op BatchNorm and the general conv gradient (as before issue #21); "new": the fused ops. */
type Variant = 'old' | 'new';

export interface ProfileRow {
  model: string;
  variant: Variant;
  /** Unprofiled trainer step and eval forward of one batch: wall and CPU ms. */
  stepMs: number;
  stepCpuMs: number;
  forwardMs: number;
  forwardCpuMs: number;
  /** Step ÷ forward in CPU time. */
  ratio: number;
  /** Sum of the profiled step's kernel times (wall). */
  kernelMs: number;
  kernels: KernelRow[];
}

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback;
}

function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e3;
}

function randomSplit(ids: number, perId: number, h: number, w: number): ReidSplit {
  const rng = new Prng(1);
  const count = ids * perId;
  const images = new Uint8Array(count * h * w * 3);
  for (let i = 0; i < images.length; i++) images[i] = rng.nextU32() & 0xff;
  const pids = Int32Array.from({ length: count }, (_, i) => 1 + Math.floor(i / perId));
  const camids = Int32Array.from({ length: count }, (_, i) => 1 + (i % 6));
  return { images, count, height: h, width: w, pids, camids };
}

async function profileModel(depth: Depth, width: number, h: number, w: number, steps: number, trainFromStage: number, variant: Variant): Promise<ProfileRow> {
  setFusedTrainOps(variant === 'new');
  const spec = buildSpec({ depth, widthMultiplier: width, inputHeight: h, inputWidth: w, numClasses: 32 });
  const model = ReidModel.init(spec, 1);
  const split = randomSplit(32, 8, h, w);
  const trainer = new Trainer(model, split, { steps: steps + 1, p: P, k: K, schedule: { warmupSteps: 0 }, trainFromStage });
  const x = tf.randomNormal([P * K, h, w, 3]) as tf.Tensor4D;
  const fwd = async () => {
    const e = model.embed(x);
    await e.data();
    e.dispose();
  };
  await trainer.runStep(); // warm-up: first-use allocations
  await fwd();
  // Unprofiled, interleaved step / forward pairs, timed in wall and in this process's CPU time
  // (wasm is single-threaded in Node, so CPU time is the compute time even on a shared machine).
  let stepMs = 0;
  let stepCpuMs = 0;
  let forwardMs = 0;
  let forwardCpuMs = 0;
  for (let i = 0; i < steps; i++) {
    let t0 = performance.now();
    let c0 = cpuMs();
    await trainer.runStep();
    stepMs += performance.now() - t0;
    stepCpuMs += cpuMs() - c0;
    t0 = performance.now();
    c0 = cpuMs();
    await fwd();
    forwardMs += performance.now() - t0;
    forwardCpuMs += cpuMs() - c0;
  }
  const byKernel = new Map<string, { ms: number; calls: number }>();
  for (let i = 0; i < steps; i++) {
    const info = await tf.profile(() => trainer.runStep().then(() => []));
    for (const k of info.kernels) {
      // tf.profile also lists scopes (customGrad ops, tf.fused.* wrappers) around kernels it
      // lists too: count backend kernels only, so the total is the step's kernel time.
      if (!tf.getKernel(k.name, tf.getBackend())) continue;
      const e = byKernel.get(k.name) ?? { ms: 0, calls: 0 };
      e.ms += Number(await k.kernelTimeMs);
      e.calls++;
      byKernel.set(k.name, e);
    }
  }
  trainer.dispose();
  x.dispose();
  model.dispose();
  const kernelMs = [...byKernel.values()].reduce((s, e) => s + e.ms, 0) / steps;
  const kernels = [...byKernel]
    .map(([kernel, e]) => ({ kernel, msPerStep: e.ms / steps, share: e.ms / steps / kernelMs, callsPerStep: e.calls / steps }))
    .sort((a, b) => b.msPerStep - a.msPerStep);
  return {
    model: `ResNet-${depth} x${width}${trainFromStage > 0 ? ` from layer${trainFromStage}` : ''}`,
    variant,
    stepMs: stepMs / steps,
    stepCpuMs: stepCpuMs / steps,
    kernelMs,
    forwardMs: forwardMs / steps,
    forwardCpuMs: forwardCpuMs / steps,
    ratio: stepCpuMs / forwardCpuMs,
    kernels,
  };
}

function print(r: ProfileRow): void {
  console.log(
    `\n${r.model} [${r.variant}]: step ${r.stepMs.toFixed(0)} ms wall / ${r.stepCpuMs.toFixed(0)} ms CPU, eval forward ${r.forwardMs.toFixed(0)} / ${r.forwardCpuMs.toFixed(0)} ms, ` +
      `step / forward ${r.ratio.toFixed(2)}x (CPU time); profiled step's kernels ${r.kernelMs.toFixed(0)} ms`,
  );
  console.log('kernel'.padEnd(28) + 'ms/step'.padStart(9) + 'share'.padStart(8) + 'calls'.padStart(7));
  for (const k of r.kernels) {
    if (k.share < 0.002) continue;
    console.log(k.kernel.padEnd(28) + k.msPerStep.toFixed(1).padStart(9) + `${(100 * k.share).toFixed(1)}%`.padStart(8) + k.callsPerStep.toFixed(0).padStart(7));
  }
}

/** Old vs new per model: the kernels that take >= 1% in either, ms per step (wall, profiled). */
export function compareTable(rows: ProfileRow[]): string {
  const out: string[] = [];
  for (const model of [...new Set(rows.map((r) => r.model))]) {
    const old = rows.find((r) => r.model === model && r.variant === 'old');
    const neu = rows.find((r) => r.model === model && r.variant === 'new');
    if (!old || !neu) continue;
    out.push(`${model}: step / forward (CPU time) ${old.ratio.toFixed(2)}x -> ${neu.ratio.toFixed(2)}x; step ${old.stepCpuMs.toFixed(0)} -> ${neu.stepCpuMs.toFixed(0)} ms CPU`, '', '| Kernel | old ms/step | new ms/step |', '|---|---:|---:|');
    const names = [...new Set([...old.kernels, ...neu.kernels].filter((k) => k.share >= 0.01).map((k) => k.kernel))];
    const ms = (r: ProfileRow, n: string) => r.kernels.find((k) => k.kernel === n)?.msPerStep ?? 0;
    names.sort((a, b) => ms(old, b) + ms(neu, b) - ms(old, a) - ms(neu, a));
    for (const n of names) out.push(`| ${n} | ${ms(old, n).toFixed(0)} | ${ms(neu, n).toFixed(0)} |`);
    out.push(`| all kernels | ${old.kernelMs.toFixed(0)} | ${neu.kernelMs.toFixed(0)} |`, '');
  }
  return out.join('\n');
}

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
  const steps = Number(arg('steps', quick ? '1' : '2'));
  const freeze = Number(arg('freeze', '0'));
  const models = arg('models', quick ? 'r18-0.125' : 'r18-0.5,r50-0.5').split(',');
  const variants = arg('variants', quick ? 'new' : 'old,new').split(',') as Variant[];
  if (variants.some((v) => v !== 'old' && v !== 'new')) throw new Error(`--variants takes old and/or new; got "${variants.join(',')}".`);
  const [h, w] = quick ? [64, 32] : [128, 64];
  const info = await initBackend('wasm');
  const load0 = os.loadavg()[0];
  const rows: ProfileRow[] = [];
  for (const m of models) {
    const match = /^r(18|34|50)-([0-9.]+)$/.exec(m);
    if (!match) throw new Error(`Unknown model "${m}"; use r18-0.5, r34-0.5 or r50-0.5 (depth-width).`);
    for (const v of variants) {
      const r = await profileModel(Number(match[1]) as Depth, Number(match[2]), h, w, steps, freeze, v);
      rows.push(r);
      print(r);
    }
  }
  setFusedTrainOps(true);
  if (variants.length > 1) console.log(`\n${compareTable(rows)}`);
  const meta = { date: new Date().toISOString(), node: process.version, cpu: os.cpus()[0]?.model ?? 'unknown', backend: info.name, threads: info.threads, loadAvg1mStart: load0, loadAvg1mEnd: os.loadavg()[0], batch: P * K, input: `${h}x${w}`, steps };
  console.log(JSON.stringify(meta));
  const out = arg('json', '');
  if (out) writeFileSync(out, JSON.stringify({ meta, rows }, null, 2));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
