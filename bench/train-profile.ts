/**
 * Where a training step's time goes, per tfjs kernel (tf.profile, with the wasm backend's
 * kernel timer switched from wall time to this process's CPU time, so other jobs on a shared
 * machine do not inflate it). Batch 32 (P=8 x K=4) at 128x64, Node wasm, one thread.
 *
 *   npx tsx bench/train-profile.ts [--models r18-0.5,r50-0.5] [--variants old,new] [--steps 3] [--freeze N] [--quick] [--json out.json] [--write]
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
import { writeSection } from './section';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/engine/backend/init';
import { buildSpec, type Depth } from '../src/engine/model/spec';
import { ReidModel } from '../src/engine/model/model';
import { Trainer } from '../src/engine/train/trainer';
import { setFusedTrainOps } from '../src/engine/model/fused-train-ops';
import { randomSplit } from '../src/workers/throughput';
import { profileKernels, type KernelTime } from '../src/engine/backend/kernel-profile';
import { arg } from './args';

const P = 8;
const K = 4;

/** "old": the plain-op BatchNorm and the general conv gradient (as before issue #21); "new": the fused ops. */
type Variant = 'old' | 'new';

export interface ProfileRow {
  model: string;
  variant: Variant;
  /** Unprofiled trainer step and eval forward of one batch: wall and CPU ms (medians). */
  stepMs: number;
  stepCpuMs: number;
  forwardMs: number;
  forwardCpuMs: number;
  /** Every eval forward's CPU ms (the forward is the same code in both variants). */
  forwardCpuSamples: number[];
  /** Step ÷ forward in CPU time (medians). */
  ratio: number;
  /** Sum of the profiled step's kernel times (CPU). */
  kernelMs: number;
  kernels: KernelTime[];
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e3;
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
  // (wasm is single-threaded in Node, so CPU time is the compute time even on a shared machine);
  // medians, since other jobs still disturb single samples (caches, memory bandwidth).
  const stepWall: number[] = [];
  const stepCpu: number[] = [];
  const fwdWall: number[] = [];
  const fwdCpu: number[] = [];
  for (let i = 0; i < steps; i++) {
    let t0 = performance.now();
    let c0 = cpuMs();
    await trainer.runStep();
    stepWall.push(performance.now() - t0);
    stepCpu.push(cpuMs() - c0);
    for (let j = 0; j < 2; j++) {
      t0 = performance.now();
      c0 = cpuMs();
      await fwd();
      fwdWall.push(performance.now() - t0);
      fwdCpu.push(cpuMs() - c0);
    }
  }
  const profile = await profileKernels(() => trainer.runStep(), steps);
  trainer.dispose();
  x.dispose();
  model.dispose();
  return {
    model: `ResNet-${depth} x${width}${trainFromStage > 0 ? ` from layer${trainFromStage}` : ''}`,
    variant,
    stepMs: median(stepWall),
    stepCpuMs: median(stepCpu),
    kernelMs: profile.kernelMs,
    forwardMs: median(fwdWall),
    forwardCpuMs: median(fwdCpu),
    forwardCpuSamples: fwdCpu,
    ratio: median(stepCpu) / median(fwdCpu),
    kernels: profile.kernels,
  };
}

function print(r: ProfileRow): void {
  console.log(
    `\n${r.model} [${r.variant}]: step ${r.stepMs.toFixed(0)} ms wall / ${r.stepCpuMs.toFixed(0)} ms CPU, eval forward ${r.forwardMs.toFixed(0)} / ${r.forwardCpuMs.toFixed(0)} ms, ` +
      `step / forward ${r.ratio.toFixed(2)}x (CPU time); profiled step's kernels ${r.kernelMs.toFixed(0)} ms CPU`,
  );
  console.log('kernel'.padEnd(28) + 'ms/step'.padStart(9) + 'share'.padStart(8) + 'calls'.padStart(7));
  for (const k of r.kernels) {
    if (k.share < 0.002) continue;
    console.log(k.kernel.padEnd(28) + k.msPerRun.toFixed(1).padStart(9) + `${(100 * k.share).toFixed(1)}%`.padStart(8) + k.callsPerRun.toFixed(0).padStart(7));
  }
}

/** Old vs new per model: the kernels that take >= 1% in either, CPU ms per step (profiled). */
export function compareTable(rows: ProfileRow[]): string {
  const out: string[] = [];
  for (const model of [...new Set(rows.map((r) => r.model))]) {
    const old = rows.find((r) => r.model === model && r.variant === 'old');
    const neu = rows.find((r) => r.model === model && r.variant === 'new');
    if (!old || !neu) continue;
    // The eval forward is the same code in both runs: pool its samples for one denominator.
    const fwd = median([...old.forwardCpuSamples, ...neu.forwardCpuSamples]);
    out.push(
      `${model}: training step ${old.stepCpuMs.toFixed(0)} -> ${neu.stepCpuMs.toFixed(0)} ms CPU (${(old.stepCpuMs / neu.stepCpuMs).toFixed(2)}x faster); ` +
        `eval forward ${fwd.toFixed(0)} ms CPU; step / forward ${(old.stepCpuMs / fwd).toFixed(2)}x -> ${(neu.stepCpuMs / fwd).toFixed(2)}x`,
      '',
      '| Kernel | old CPU ms/step | new CPU ms/step |',
      '|---|---:|---:|',
    );
    const names = [...new Set([...old.kernels, ...neu.kernels].filter((k) => k.share >= 0.01).map((k) => k.kernel))];
    const ms = (r: ProfileRow, n: string) => r.kernels.find((k) => k.kernel === n)?.msPerRun ?? 0;
    names.sort((a, b) => ms(old, b) + ms(neu, b) - ms(old, a) - ms(neu, a));
    for (const n of names) out.push(`| ${n} | ${ms(old, n).toFixed(0)} | ${ms(neu, n).toFixed(0)} |`);
    out.push(`| all kernels | ${old.kernelMs.toFixed(0)} | ${neu.kernelMs.toFixed(0)} |`, '');
  }
  return out.join('\n');
}

/** Time each kernel's synchronous call in CPU time (wasm kernels run on this thread). */
function useCpuKernelTimer(): void {
  const backend = tf.backend() as unknown as { time(f: () => void): Promise<{ kernelMs: number }> };
  backend.time = async (f) => {
    const c0 = process.cpuUsage();
    f();
    const d = process.cpuUsage(c0);
    return { kernelMs: (d.user + d.system) / 1000 };
  };
  // The profiler reads every kernel's output back to look for NaNs unless told not to.
  tf.env().set('CHECK_COMPUTATION_FOR_ERRORS', false);
}

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
  const steps = Number(arg('steps', quick ? '1' : '3'));
  const freeze = Number(arg('freeze', '0'));
  const models = arg('models', quick ? 'r18-0.125' : 'r18-0.5,r50-0.5').split(',');
  const variants = arg('variants', quick ? 'new' : 'old,new').split(',') as Variant[];
  if (variants.some((v) => v !== 'old' && v !== 'new')) throw new Error(`--variants takes old and/or new; got "${variants.join(',')}".`);
  const [h, w] = quick ? [64, 32] : [128, 64];
  const info = await initBackend('wasm');
  useCpuKernelTimer();
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
  // --write (npm run bench) records the old-vs-new comparison; quick mode never writes.
  if (process.argv.includes('--write') && !quick && variants.length > 1) {
    const shown = process.argv.slice(2).filter((a, i, all) => a !== '--write' && a !== '--json' && all[i - 1] !== '--json');
    const cmd = `npx tsx bench/train-profile.ts ${shown.join(' ')}`.trim();
    writeSection(
      HEADING,
      [
        HEADING,
        '',
        `Measured ${meta.date.slice(0, 10)} with \`${cmd}\` on ${meta.cpu}, ${os.cpus().length} cores, Node ${meta.node}, tfjs ${tf.version.tfjs} wasm (single-threaded in Node); 1-minute load average ${meta.loadAvg1mStart.toFixed(1)} at the start and ${meta.loadAvg1mEnd.toFixed(1)} at the end (shared machine: times are CPU time of this process, medians of ${steps} steps). Batch ${meta.batch} (P=8 x K=4), ${meta.input}, random init, triplet + ID loss, Adam. "old" = the fused training ops switched off (plain-op BatchNorm and the general Conv2D gradient, the step before issue #21); "new" = today's step. Per kernel: CPU ms per step from tf.profile.`,
        '',
        compareTable(rows),
      ].join('\n'),
    );
  }
}

const HEADING = '## Training step profile (per kernel)';

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
