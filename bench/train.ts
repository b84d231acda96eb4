/**
 * Training and forward throughput on Node wasm (single thread): batch 32 (P=8 x K=4) at
 * 128x64, ResNet-18/34/50 at width 0.5 and ResNet-18 at full width.
 *
 *   npx tsx bench/train.ts [--steps 5] [--only r18-0.5] [--json out.json]
 *
 * A training step is the whole trainer step (P×K sampling, augmentation, normalisation,
 * forward, backward, Adam, BN statistics). Forward is eval-mode embedding extraction. Besides
 * wall-clock img/s it reports img per CPU-second of this process, which stays meaningful when
 * other processes share the CPU (the wasm backend is single-threaded in Node).
 */
import * as os from 'node:os';
import { writeFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/engine/backend/init';
import { buildSpec, type Depth } from '../src/engine/model/spec';
import { ReidModel } from '../src/engine/model/model';
import { Trainer } from '../src/engine/train/trainer';
import { Prng } from '../src/engine/util/prng';
import type { ReidSplit } from '../src/engine/data/types';
import { arg } from './args';

const H = 128;
const W = 64;
const P = 8;
const K = 4;

interface Row {
  model: string;
  depth: Depth;
  width: number;
  forwardImgS: number;
  forwardImgCpuS: number;
  trainImgS: number;
  trainImgCpuS: number;
  stepMs: number;
}

/** Random images of 32 identities x 8 (content does not affect throughput). */
function randomSplit(ids: number, perId: number): ReidSplit {
  const rng = new Prng(1);
  const count = ids * perId;
  const images = new Uint8Array(count * H * W * 3);
  for (let i = 0; i < images.length; i++) images[i] = rng.nextU32() & 0xff;
  const pids = Int32Array.from({ length: count }, (_, i) => 1 + Math.floor(i / perId));
  const camids = Int32Array.from({ length: count }, (_, i) => 1 + (i % 6));
  return { images, count, height: H, width: W, pids, camids };
}

function cpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

async function bench(depth: Depth, width: number, steps: number, split: ReidSplit): Promise<Row> {
  const spec = buildSpec({ depth, widthMultiplier: width, inputHeight: H, inputWidth: W, numClasses: 32 });
  const model = ReidModel.init(spec, 1);
  const batch = P * K;

  // Forward (eval mode).
  const x = tf.randomNormal([batch, H, W, 3]) as tf.Tensor4D;
  const fwd = async () => {
    const e = model.embed(x);
    await e.data();
    e.dispose();
  };
  await fwd();
  let t0 = performance.now();
  let c0 = cpuSeconds();
  for (let i = 0; i < steps; i++) await fwd();
  const fwdWall = (performance.now() - t0) / 1000;
  const fwdCpu = cpuSeconds() - c0;
  x.dispose();

  // Training steps.
  const trainer = new Trainer(model, split, { steps: steps + 1, p: P, k: K, schedule: { warmupSteps: 0 } });
  await trainer.runStep(); // warm-up (first-use allocations)
  t0 = performance.now();
  c0 = cpuSeconds();
  for (let i = 0; i < steps; i++) await trainer.runStep();
  const trainWall = (performance.now() - t0) / 1000;
  const trainCpu = cpuSeconds() - c0;
  trainer.dispose();
  model.dispose();
  return {
    model: `ResNet-${depth} x${width}`,
    depth,
    width,
    forwardImgS: (steps * batch) / fwdWall,
    forwardImgCpuS: (steps * batch) / fwdCpu,
    trainImgS: (steps * batch) / trainWall,
    trainImgCpuS: (steps * batch) / trainCpu,
    stepMs: (trainWall * 1000) / steps,
  };
}

async function main() {
  const steps = Number(arg('steps', '5'));
  const only = arg('only', '');
  const info = await initBackend('wasm');
  const split = randomSplit(32, 8);
  const configs: [Depth, number][] = [[18, 0.5], [34, 0.5], [50, 0.5], [18, 1]];
  const rows: Row[] = [];
  const load0 = os.loadavg()[0];
  for (const [d, w] of configs) {
    if (only && only !== `r${d}-${w}`) continue;
    const r = await bench(d, w, steps, split);
    rows.push(r);
    console.log(
      `${r.model.padEnd(16)} forward ${r.forwardImgS.toFixed(1)} img/s (${r.forwardImgCpuS.toFixed(1)} per CPU-s)  ` +
        `train ${r.trainImgS.toFixed(1)} img/s (${r.trainImgCpuS.toFixed(1)} per CPU-s, ${r.stepMs.toFixed(0)} ms/step)`,
    );
  }
  const meta = {
    date: new Date().toISOString(),
    node: process.version,
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cores: os.cpus().length,
    backend: info.name,
    threads: info.threads,
    loadAvg1mStart: load0,
    loadAvg1mEnd: os.loadavg()[0],
    batch: P * K,
    input: `${H}x${W}`,
    steps,
  };
  console.log(JSON.stringify(meta));
  const out = arg('json', '');
  if (out) writeFileSync(out, JSON.stringify({ meta, rows }, null, 2));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
