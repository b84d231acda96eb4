/**
 * Cancellation at random (seeded) points leaves a model either exactly as before or exactly as
 * after a finished step, and leaks nothing.
 *
 * Weights are compared by an FNV-1a hash over the float bytes of every parameter (names in
 * sorted order). A reference run records the hash before training and after every step; a
 * cancelled run of the same configuration must end on one of those hashes, namely the one of
 * the last step it completed. Strategies that return a new model (prune once, iterative) must
 * leave their input's hash unchanged and free everything they made.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/engine/backend/init';
import { buildSpec } from '../../src/engine/model/spec';
import { ReidModel } from '../../src/engine/model/model';
import { fineTune } from '../../src/engine/train/finetune';
import { NO_AUGMENT } from '../../src/engine/train/augment';
import type { TrainConfigInput } from '../../src/engine/train/config';
import { getCriterion } from '../../src/engine/prune/criteria/index';
import { pruneIterative } from '../../src/engine/prune/strategies/iterative';
import { pruneOnce } from '../../src/engine/prune/strategies/once';
import { isLabError } from '../../src/engine/errors';
import { Prng } from '../../src/engine/util/prng';
import { syntheticSplit } from './train-fixtures';

const H = 64;
const W = 32;
const STEPS = 6;
const split = syntheticSplit({ ids: 6, perId: 4, height: H, width: W, seed: 11, firstPid: 1 });
const CFG: TrainConfigInput = { steps: STEPS, p: 4, k: 2, seed: 9, augment: NO_AUGMENT, optimizer: { kind: 'adam', lr: 1e-3 } };

/** FNV-1a (32-bit) over the float bytes of every parameter, in sorted name order. */
async function weightHash(model: ReidModel): Promise<string> {
  const arrays = await model.toArrays();
  let h = 0x811c9dc5;
  for (const name of [...arrays.keys()].sort()) {
    for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
    const v = arrays.get(name)!;
    const b = new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
    for (let i = 0; i < b.length; i++) h = Math.imul(h ^ b[i], 0x01000193);
  }
  return (h >>> 0).toString(16).padStart(8, '0');
}

const tinyModel = (seed: number) => ReidModel.init(buildSpec({ depth: 18, widthMultiplier: 0.125, inputHeight: H, inputWidth: W }), seed);

beforeAll(async () => {
  await initBackend('wasm');
});

describe('cancelling a fine-tune', () => {
  it('at a random step or progress callback ends exactly on the hash of the last finished step', async () => {
    const base = tinyModel(3);
    const arrays = await base.toArrays();
    base.dispose();

    // Reference: the hash before training and after each step.
    const ref = ReidModel.fromArrays(base.spec, arrays);
    const allowed = [await weightHash(ref)];
    await fineTune(ref, split, CFG, { afterStep: async () => void allowed.push(await weightHash(ref)) });
    ref.dispose();
    expect(new Set(allowed).size).toBe(STEPS + 1); // every step changes the weights

    const rng = new Prng(2024);
    const outcomes: string[] = [];
    for (let run = 0; run < 10; run++) {
      const r = rng.fork(run);
      const model = ReidModel.fromArrays(base.spec, arrays);
      const tensors = tf.memory().numTensors;
      const signal = { aborted: false };
      const cancelAfter = r.int(0, STEPS - 1); // steps completed before the cancel lands
      const viaProgress = r.bool(0.5);
      if (cancelAfter === 0) signal.aborted = true;
      let err: unknown;
      try {
        await fineTune(model, split, CFG, {
          signal,
          progressIntervalMs: 0,
          // The cancel arrives from a hook, as a UI's cancel message arrives between steps.
          afterStep: viaProgress ? undefined : (m) => void (m.step >= cancelAfter && (signal.aborted = true)),
          onProgress: viaProgress ? (p) => void (p.step >= cancelAfter && (signal.aborted = true)) : undefined,
        });
      } catch (e) {
        err = e;
      }
      expect(isLabError(err, 'cancelled'), `run ${run}: ${String(err)}`).toBe(true);
      const h = await weightHash(model);
      expect(allowed).toContain(h);
      expect(h, `run ${run}: cancelled after ${cancelAfter} steps`).toBe(allowed[cancelAfter]);
      model.dispose();
      expect(tf.memory().numTensors).toBe(tensors - model.params.size);
      outcomes.push(`${cancelAfter}${viaProgress ? 'p' : 's'}`);
    }
    console.info(`[cancel] fine-tune: 10 runs cancelled after steps ${outcomes.join(', ')} (p: at a progress callback, s: after a step); each ended on that step's hash`);
  });

  it('from a timer at a random moment ends on some finished step (never between two)', async () => {
    const base = tinyModel(4);
    const arrays = await base.toArrays();
    base.dispose();
    const ref = ReidModel.fromArrays(base.spec, arrays);
    const allowed = [await weightHash(ref)];
    const t0 = performance.now();
    await fineTune(ref, split, CFG, { afterStep: async () => void allowed.push(await weightHash(ref)) });
    const full = performance.now() - t0;
    ref.dispose();

    const rng = new Prng(77);
    for (let run = 0; run < 4; run++) {
      const model = ReidModel.fromArrays(base.spec, arrays);
      const signal = { aborted: false };
      const timer = setTimeout(() => (signal.aborted = true), rng.uniform(0, full));
      try {
        await fineTune(model, split, CFG, { signal });
      } catch (e) {
        expect(isLabError(e, 'cancelled')).toBe(true);
      } finally {
        clearTimeout(timer);
      }
      expect(allowed).toContain(await weightHash(model));
      model.dispose();
    }
  });
});

describe('cancelling strategies that return a new model', () => {
  const criterion = getCriterion('l1');

  it('iterative pruning cancelled at a random progress callback leaves the input as it was and frees the rest', async () => {
    const model = tinyModel(5);
    const before = await weightHash(model);
    const opts = {
      criterion,
      settings: { criterion: 'l1' as const, rate: 0.5 },
      rounds: 3,
      fineTune: { split, config: { p: 4, k: 2, seed: 9, augment: NO_AUGMENT, optimizer: { kind: 'adam' as const, lr: 1e-3 } }, imagesPerRound: 16 },
    };
    // Reference: how many progress callbacks a full run makes.
    let calls = 0;
    const full = await pruneIterative(model, { ...opts, onProgress: () => void calls++ });
    full.model.dispose();
    expect(await weightHash(model)).toBe(before);

    const rng = new Prng(31);
    const tensors = tf.memory().numTensors;
    const points: number[] = [];
    for (let run = 0; run < 8; run++) {
      const at = rng.int(0, calls - 2); // not the final "done" report: that one is past every check
      points.push(at);
      const signal = { aborted: false };
      let n = 0;
      let err: unknown;
      try {
        const r = await pruneIterative(model, { ...opts, signal, onProgress: () => void (n++ === at && (signal.aborted = true)) });
        r.model.dispose();
      } catch (e) {
        err = e;
      }
      expect(isLabError(err, 'cancelled'), `run ${run}, callback ${at} of ${calls}: ${String(err)}`).toBe(true);
      expect(await weightHash(model)).toBe(before);
      expect(tf.memory().numTensors).toBe(tensors);
    }
    model.dispose();
    console.info(`[cancel] iterative (3 rounds, ${calls} progress callbacks): cancelled at callbacks ${points.join(', ')}; input unchanged, no leaks`);
  });

  it('prune once with fine-tuning cancelled at a random phase leaves the input as it was and frees the pruned model', async () => {
    const model = tinyModel(6);
    const before = await weightHash(model);
    const tensors = tf.memory().numTensors;
    const rng = new Prng(8);
    const phases: string[] = [];
    for (let run = 0; run < 6; run++) {
      const signal = { aborted: false };
      // The first report of each phase: scoring, surgery, or the fine-tune's first step (its
      // reports are throttled, so only the first one is sure to come before the last step).
      const phase = rng.pick(['score', 'surgery', 'fine-tune']);
      phases.push(phase);
      let err: unknown;
      try {
        const r = await pruneOnce(model, {
          criterion,
          settings: { criterion: 'l1', rate: 0.5 },
          fineTune: { split, config: CFG },
          signal,
          onProgress: (p) => void (p.phase === phase && (signal.aborted = true)),
        });
        r.model.dispose();
      } catch (e) {
        err = e;
      }
      expect(isLabError(err, 'cancelled'), `cancel at ${phase}: ${String(err)}`).toBe(true);
      expect(await weightHash(model)).toBe(before);
      expect(tf.memory().numTensors).toBe(tensors);
    }
    model.dispose();
    console.info(`[cancel] prune once + fine-tune: cancelled at ${phases.join(', ')}; input unchanged, no leaks`);
  });
});
