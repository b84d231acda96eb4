/** Trainer parts against hand-worked values: optimisers, LR schedule, augmentation, BN update, checkpoint bytes, identity checks. */
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/engine/backend/init';
import { Optimizer, type OptimizerConfig } from '../../src/engine/train/optimizer';
import { learningRateAt, DEFAULT_SCHEDULE } from '../../src/engine/train/schedule';
import { augmentBatch, DEFAULT_AUGMENT, NO_AUGMENT } from '../../src/engine/train/augment';
import { updateRunningStats } from '../../src/engine/train/bn-update';
import { CHECKPOINT_FORMAT, deserializeCheckpoint, fromFloat16Bits, serializeCheckpoint, toFloat16Bits, type TrainCheckpoint } from '../../src/engine/train/checkpoint';
import { assertDisjointIdentities, labelMap } from '../../src/engine/train/identities';
import { resolveTrainConfig } from '../../src/engine/train/config';
import { Prng } from '../../src/engine/util/prng';
import { isLabError } from '../../src/engine/errors';
import { buildSpec } from '../../src/engine/model/spec';

beforeAll(async () => {
  await initBackend('wasm');
});

let varCounter = 0;

/** Two steps with the same gradient 0.5 on a single parameter starting at 1. */
function twoSteps(config: OptimizerConfig, lr = 0.1): number[] {
  const p = tf.variable(tf.scalar(1), true, `opt-test-${++varCounter}`);
  const params = new Map([['p', p]]);
  const opt = new Optimizer(config);
  const out: number[] = [];
  for (let i = 0; i < 2; i++) {
    const g = tf.scalar(0.5);
    opt.apply(params, { p: g }, lr);
    g.dispose();
    out.push(p.dataSync()[0]);
  }
  opt.dispose();
  p.dispose();
  return out;
}

describe('optimisers', () => {
  it('SGD with momentum and weight decay follows torch.optim.SGD', () => {
    // g' = 0.5 + 0.1 * 1 = 0.6, buf = 0.6, p = 1 - 0.06 = 0.94;
    // g' = 0.5 + 0.094 = 0.594, buf = 0.54 + 0.594 = 1.134, p = 0.94 - 0.1134 = 0.8266.
    const [a, b] = twoSteps({ kind: 'sgd', lr: 0.1, momentum: 0.9, weightDecay: 0.1, nesterov: false });
    expect(a).toBeCloseTo(0.94, 6);
    expect(b).toBeCloseTo(0.8266, 6);
  });

  it('Adam with L2 decay adds wd*p to the gradient; decoupled (AdamW) decays the weight directly', () => {
    const adam = (decoupled: boolean): OptimizerConfig => ({ kind: 'adam', lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.1, decoupled });
    // Step 1 (both): bias-corrected m/sqrt(v) = g/|g| = 1.
    // L2: p1 = 1 - 0.1 = 0.9. Step 2: g = 0.5 + 0.09 = 0.59; m = 0.9*0.06 + 0.1*0.59 = 0.113,
    // v = 0.999*0.00036 + 0.001*0.3481 = 0.00070774; mhat = 0.113/0.19, vhat = v/(1-0.999^2).
    const [l1, l2] = twoSteps(adam(false));
    const m = 0.113 / 0.19;
    const v = (0.999 * 0.00036 + 0.001 * 0.59 * 0.59) / (1 - 0.999 ** 2);
    expect(l1).toBeCloseTo(0.9, 6);
    expect(l2).toBeCloseTo(0.9 - 0.1 * (m / Math.sqrt(v)), 5);
    // Decoupled: p1 = 1 - 0.1*1 - 0.1*0.1*1 = 0.89; step 2 moment ratio is exactly 1 again.
    const [d1, d2] = twoSteps(adam(true));
    expect(d1).toBeCloseTo(0.89, 6);
    expect(d2).toBeCloseTo(0.89 - 0.1 - 0.01 * 0.89, 6);
  });

  it('state round-trips through plain data and is validated before it replaces anything', async () => {
    const p = tf.variable(tf.tensor1d([1, 2, 3]), true, 'opt-state-p');
    const params = new Map([['p', p]]);
    const opt = new Optimizer({ kind: 'adam', lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, decoupled: false });
    tf.tidy(() => opt.apply(params, { p: tf.tensor1d([0.1, -0.2, 0.3]) }, 0.1));
    const state = await opt.getState();
    expect(state.step).toBe(1);
    [0.01, -0.02, 0.03].forEach((m, i) => expect(state.slots.p.values[0][i]).toBeCloseTo(m, 7));
    const other = new Optimizer(opt.config);
    const bad = { ...state, slots: { p: { shape: [2], values: [new Float32Array(2), new Float32Array(2)] } } };
    expect(() => other.setState(bad, params)).toThrow(/does not match/);
    expect(other.steps).toBe(0);
    other.setState(state, params);
    expect(other.steps).toBe(1);
    expect(other.numStateTensors).toBe(2);
    opt.dispose();
    other.dispose();
    p.dispose();
  });
});

describe('learning-rate schedule', () => {
  const s = { ...DEFAULT_SCHEDULE, warmupSteps: 5, warmupFactor: 0.1, minFactor: 0 };
  it('warms up linearly from warmupFactor*lr to lr', () => {
    expect(learningRateAt(1, 0, 105, s)).toBeCloseTo(0.1, 10);
    expect(learningRateAt(1, 2, 105, s)).toBeCloseTo(0.55, 10);
    expect(learningRateAt(1, 4, 105, s)).toBeCloseTo(1, 10);
  });
  it('then follows a cosine to minFactor*lr, or step decay', () => {
    expect(learningRateAt(1, 5, 105, s)).toBeCloseTo(1, 10);
    expect(learningRateAt(1, 55, 105, s)).toBeCloseTo(0.5, 10);
    expect(learningRateAt(1, 105, 105, s)).toBeCloseTo(0, 10);
    const st = { ...s, decay: 'step' as const, stepSize: 10, gamma: 0.5 };
    expect(learningRateAt(2, 14, 105, st)).toBe(2);
    expect(learningRateAt(2, 15, 105, st)).toBe(1);
    expect(learningRateAt(2, 35, 105, st)).toBe(0.25);
  });
});

describe('augmentation', () => {
  // A 2x3 image with distinct pixels.
  const img = Uint8Array.from({ length: 2 * 3 * 3 }, (_, i) => i + 1);
  it('without augmentation copies the bytes; the input is never modified', () => {
    const copy = img.slice();
    expect(Array.from(augmentBatch(img, 1, 2, 3, NO_AUGMENT, new Prng(1)))).toEqual(Array.from(img));
    augmentBatch(img, 1, 2, 3, DEFAULT_AUGMENT, new Prng(1));
    expect(img).toEqual(copy);
  });
  it('flips horizontally', () => {
    const out = augmentBatch(img, 1, 2, 3, { ...NO_AUGMENT, flip: 1 }, new Prng(1));
    // Row 0 pixels (1,2,3) (4,5,6) (7,8,9) become (7,8,9) (4,5,6) (1,2,3).
    expect(Array.from(out.subarray(0, 9))).toEqual([7, 8, 9, 4, 5, 6, 1, 2, 3]);
    expect(Array.from(out.subarray(9, 18))).toEqual([16, 17, 18, 13, 14, 15, 10, 11, 12]);
  });
  it('pad-and-crop shifts the image by at most the padding, filling with black', () => {
    const h = 8;
    const w = 6;
    const big = Uint8Array.from({ length: h * w * 3 }, (_, i) => 1 + (Math.floor(i / 3) % 250));
    const rng = new Prng(3);
    for (let t = 0; t < 10; t++) {
      const out = augmentBatch(big, 1, h, w, { ...NO_AUGMENT, padCrop: 2 }, rng);
      // Find the shift: the output pixel value v at (y, x) must be the input's at (y+dy, x+dx).
      let found = false;
      for (let dy = -2; dy <= 2 && !found; dy++) {
        for (let dx = -2; dx <= 2 && !found; dx++) {
          let ok = true;
          for (let y = 0; y < h && ok; y++) {
            for (let x = 0; x < w && ok; x++) {
              const sy = y + dy;
              const sx = x + dx;
              const want = sy < 0 || sy >= h || sx < 0 || sx >= w ? 0 : big[(sy * w + sx) * 3];
              ok = out[(y * w + x) * 3] === want;
            }
          }
          found = ok;
        }
      }
      expect(found).toBe(true);
    }
  });
  it('random erasing fills one rectangle with the ImageNet mean colour', () => {
    const h = 32;
    const w = 16;
    const white = new Uint8Array(h * w * 3).fill(255);
    const out = augmentBatch(white, 1, h, w, { ...NO_AUGMENT, erasing: 1 }, new Prng(7));
    const erased: [number, number][] = [];
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const o = (y * w + x) * 3;
        if (out[o] !== 255) {
          expect([out[o], out[o + 1], out[o + 2]]).toEqual([124, 116, 104]);
          erased.push([y, x]);
        }
      }
    }
    const ys = erased.map((e) => e[0]);
    const xs = erased.map((e) => e[1]);
    const area = (Math.max(...ys) - Math.min(...ys) + 1) * (Math.max(...xs) - Math.min(...xs) + 1);
    expect(erased.length).toBe(area); // a full rectangle
    expect(area / (h * w)).toBeGreaterThan(0.02 - 0.01);
    expect(area / (h * w)).toBeLessThan(0.4 + 0.05);
  });
  it('is deterministic for a PRNG state', () => {
    const many = Uint8Array.from({ length: 4 * 16 * 8 * 3 }, (_, i) => (i * 7) % 256);
    const a = augmentBatch(many, 4, 16, 8, DEFAULT_AUGMENT, new Prng(9));
    const b = augmentBatch(many, 4, 16, 8, DEFAULT_AUGMENT, new Prng(9));
    const c = augmentBatch(many, 4, 16, 8, DEFAULT_AUGMENT, new Prng(10));
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
  });
});

describe('BatchNorm running statistics', () => {
  it('running = 0.9 running + 0.1 batch, with the unbiased variance count/(count-1)', () => {
    const params = new Map([
      ['bn.running_mean', tf.variable(tf.tensor1d([0, 1]), false, 'bnu-rm')],
      ['bn.running_var', tf.variable(tf.tensor1d([1, 2]), false, 'bnu-rv')],
    ]);
    const mean = tf.tensor1d([2, 3]);
    const variance = tf.tensor1d([0.75, 1.5]);
    updateRunningStats(params, [{ name: 'bn', mean, variance, count: 4 }]);
    const rm = Array.from(params.get('bn.running_mean')!.dataSync());
    const rv = Array.from(params.get('bn.running_var')!.dataSync());
    expect(rm[0]).toBeCloseTo(0.2, 6);
    expect(rm[1]).toBeCloseTo(0.9 + 0.3, 6);
    expect(rv[0]).toBeCloseTo(0.9 + 0.1 * 1, 6); // 0.75 * 4/3 = 1
    expect(rv[1]).toBeCloseTo(1.8 + 0.1 * 2, 6);
    [mean, variance, ...params.values()].forEach((t) => t.dispose());
  });
});

describe('checkpoint bytes', () => {
  it('float16 conversion is exact for representable values and rounds to nearest', () => {
    expect(toFloat16Bits(1)).toBe(0x3c00);
    expect(toFloat16Bits(-2)).toBe(0xc000);
    expect(toFloat16Bits(65504)).toBe(0x7bff);
    expect(toFloat16Bits(1e6)).toBe(0x7c00);
    expect(toFloat16Bits(2 ** -24)).toBe(1);
    expect(toFloat16Bits(1e-9)).toBe(0);
    expect(toFloat16Bits(0.1)).toBe(0x2e66);
    for (const v of [0.1, -3.7, 1234.5, 6e-5, 2 ** -20]) {
      expect(Math.abs(fromFloat16Bits(toFloat16Bits(v)) - v)).toBeLessThanOrEqual(Math.abs(v) * 2 ** -11 + 2 ** -25);
    }
  });

  const ckpt = (): TrainCheckpoint => ({
    format: CHECKPOINT_FORMAT,
    config: resolveTrainConfig({ steps: 10 }),
    spec: buildSpec({ depth: 18, widthMultiplier: 0.125 }),
    step: 3,
    params: { 'conv1.weight': { shape: [1, 1, 1, 3], values: Float32Array.from([0.1, -2.5, 7]) } },
    headParams: { 'classifier.bias': { shape: [2], values: Float32Array.from([1, 2]) } },
    optimizer: { kind: 'adam', step: 3, slots: { 'conv1.weight': { shape: [1, 1, 1, 3], values: [Float32Array.from([1, 2, 3]), Float32Array.from([0.1, 0.2, 0.3])] } } },
    sampler: { epoch: 1, batch: 2, epochRng: 12345 },
    augmentRng: 777,
    tripletRng: 888,
  });

  it('round-trips exactly in float32, and closely with float16 parameters (optimiser state stays float32)', () => {
    const c = ckpt();
    const back = deserializeCheckpoint(serializeCheckpoint(c));
    expect(back).toEqual(c);
    const half = serializeCheckpoint(c, { paramsFloat16: true });
    expect(half.length).toBeLessThan(serializeCheckpoint(c).length);
    const h = deserializeCheckpoint(half);
    expect(Array.from(h.params['conv1.weight'].values)).toEqual([fromFloat16Bits(0x2e66), -2.5, 7]);
    expect(h.optimizer.slots['conv1.weight'].values[1]).toEqual(c.optimizer.slots['conv1.weight'].values[1]);
  });

  it('rejects bytes that are not a checkpoint with a LabError', () => {
    const bytes = serializeCheckpoint(ckpt());
    for (const bad of [new Uint8Array([1, 2, 3]), bytes.slice(0, 40), bytes.slice(0, bytes.length - 4)]) {
      let err: unknown;
      try {
        deserializeCheckpoint(bad);
      } catch (e) {
        err = e;
      }
      expect(isLabError(err, 'bad-argument')).toBe(true);
    }
  });
});

describe('identities', () => {
  it('maps training pids (>0) to contiguous labels in ascending order', () => {
    const { ids, index } = labelMap([7, 3, 7, -1, 0, 12]);
    expect(ids).toEqual([3, 7, 12]);
    expect(index.get(7)).toBe(1);
    expect(index.has(0)).toBe(false);
  });
  it('accepts disjoint identities, ignoring junk (-1) and distractors (0)', () => {
    expect(() => assertDisjointIdentities({ pids: Int32Array.from([1, 2, -1, 0]) }, { pids: Int32Array.from([3, -1]) }, { pids: Int32Array.from([0, 4, -1]) })).not.toThrow();
  });
});

describe('config', () => {
  it('fills defaults per section and rejects unusable settings with a sentence', () => {
    const c = resolveTrainConfig({ optimizer: { kind: 'sgd' }, loss: { margin: 0.5 } });
    expect(c.optimizer.kind).toBe('sgd');
    expect(c.loss.margin).toBe(0.5);
    expect(c.loss.labelSmoothing).toBe(0.1);
    expect(() => resolveTrainConfig({ k: 1 })).toThrow(/K >= 2/);
    expect(() => resolveTrainConfig({ classifier: 'none' })).toThrow(/ID loss needs a classifier/);
    expect(() => resolveTrainConfig({ optimizer: { lr: -1 } })).not.toThrow(); // validated by the optimiser
  });
});
