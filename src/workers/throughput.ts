/**
 * Benchmark-only: forward and training throughput of a fresh random ResNet in this worker, on
 * its backend (bench/browser.ts calls it; the lab's UI does not). Random images, since pixel
 * content does not change the cost; the model is built, timed and disposed, so the lab's own
 * model and dataset are untouched. A training step is the engine's whole trainer step (P×K
 * sampling, augmentation, forward, backward, Adam, BN statistics), as in bench/train.ts.
 */
import * as tf from '@tensorflow/tfjs';
import { LabError } from '../engine/errors';
import { ReidModel } from '../engine/model/model';
import { buildSpec, type Depth } from '../engine/model/spec';
import type { ReidSplit } from '../engine/data/types';
import { Trainer } from '../engine/train/trainer';
import { Prng } from '../engine/util/prng';
import { setFusedTrainOps } from '../engine/model/fused-train-ops';
import type { BackendName, ThroughputRequest, ThroughputResult } from './api';
import { yieldToEventLoop, type Job } from './jobs';
import { applyPlan, planPrune } from '../engine/prune/plan';
import { CRITERIA } from '../engine/prune/criteria';
import { modelCost } from '../engine/cost/macs';
import { profileKernels, type KernelProfile } from '../engine/backend/kernel-profile';

/** Random uint8 images of `ids` identities x `perId` (enough for P×K sampling). */
export function randomSplit(ids: number, perId: number, h: number, w: number): ReidSplit {
  const rng = new Prng(1);
  const count = ids * perId;
  const images = new Uint8Array(count * h * w * 3);
  for (let i = 0; i < images.length; i++) images[i] = rng.nextU32() & 0xff;
  const pids = Int32Array.from({ length: count }, (_, i) => 1 + Math.floor(i / perId));
  const camids = Int32Array.from({ length: count }, (_, i) => 1 + (i % 6));
  return { images, count, height: h, width: w, pids, camids };
}

export async function benchmarkThroughput(req: ThroughputRequest, backend: BackendName, job: Job): Promise<ThroughputResult> {
  const { depth, width, batch = 32, steps = 3, train = true, height = 128, inputWidth = 64 } = req;
  if (![18, 34, 50].includes(depth)) throw new LabError('bad-argument', `Depth must be 18, 34 or 50; got ${String(depth)}.`);
  if (!(width > 0 && width <= 2)) throw new LabError('bad-argument', `The width multiplier must be above 0 and at most 2; got ${String(width)}.`);
  if (!Number.isInteger(batch) || batch < 4 || batch % 4 !== 0 || batch > 256) throw new LabError('bad-argument', `The batch must be a multiple of 4 from 4 to 256 (P×K with K=4); got ${String(batch)}.`);
  if (!Number.isInteger(steps) || steps < 1 || steps > 1000) throw new LabError('bad-argument', `Steps must be a whole number from 1 to 1000; got ${String(steps)}.`);
  const k = 4;
  const p = batch / k;
  if (req.macsKeep !== undefined && !(req.macsKeep > 0 && req.macsKeep < 1)) throw new LabError('bad-argument', `The share of MACs to keep must be between 0 and 1; got ${String(req.macsKeep)}.`);
  const spec = buildSpec({ depth: depth as Depth, widthMultiplier: width, inputHeight: height, inputWidth, numClasses: p });
  let model = ReidModel.init(spec, 1);
  if (req.macsKeep !== undefined) {
    job.progress(0, `Pruning to ${Math.round(100 * req.macsKeep)}% of the MACs`);
    const plan = await planPrune(model, CRITERIA.l1, { criterion: 'l1', macsTarget: req.macsKeep, scope: 'inner', ranking: 'local', seed: 1 });
    const pruned = await applyPlan(model, plan, { criterion: CRITERIA.l1 });
    model.dispose();
    model = pruned;
  }
  let trainer: Trainer | null = null;
  setFusedTrainOps(req.fusedTrainOps ?? true);
  const x = tf.randomNormal([batch, height, inputWidth, 3]) as tf.Tensor4D;
  try {
    const fwd = async () => {
      const e = model.embed(x);
      await e.data();
      e.dispose();
    };
    job.progress(0, 'Forward warm-up');
    await fwd();
    let t0 = performance.now();
    for (let i = 0; i < steps; i++) {
      job.throwIfCancelled();
      await fwd();
      job.progress((0.5 * (i + 1)) / steps, `Forward ${i + 1}/${steps}`);
      await yieldToEventLoop();
    }
    const forwardMs = (performance.now() - t0) / steps;
    let trainStepMs: number | null = null;
    let profile: KernelProfile | null = null;
    if (train) {
      trainer = new Trainer(model, randomSplit(p, 8, height, inputWidth), { steps: (req.profile ? 2 * steps : steps) + 1, p, k, schedule: { warmupSteps: 0 } });
      // The profile's repeats take the last tenth of the bar; the job's end (fraction 1) comes after them.
      const trainShare = req.profile ? 0.4 : 0.5;
      job.progress(0.5, 'Training warm-up');
      await trainer.runStep(); // first-use allocations and shader compiles
      t0 = performance.now();
      for (let i = 0; i < steps; i++) {
        job.throwIfCancelled();
        await trainer.runStep();
        job.progress(0.5 + (trainShare * (i + 1)) / steps, `Training step ${i + 1}/${steps}`);
        await yieldToEventLoop();
      }
      trainStepMs = (performance.now() - t0) / steps;
      if (req.profile) {
        job.progress(0.9, 'Profiling the training step per kernel', undefined, true);
        profile = await profileKernels(() => trainer!.runStep(), steps);
      }
    }
    return {
      backend,
      depth: depth as Depth,
      width,
      batch,
      input: { height, width: inputWidth },
      steps,
      macs: modelCost(model.spec).macs,
      forwardMsPerBatch: forwardMs,
      forwardImagesPerSecond: (batch * 1000) / forwardMs,
      trainMsPerStep: trainStepMs,
      trainImagesPerSecond: trainStepMs === null ? null : (batch * 1000) / trainStepMs,
      ...(profile ? { kernels: profile.kernels, kernelMs: profile.kernelMs } : {}),
    };
  } finally {
    setFusedTrainOps(true);
    trainer?.dispose();
    x.dispose();
    model.dispose();
  }
}
