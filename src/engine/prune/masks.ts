/**
 * Channel masks from keep-sets: the reference side of the surgery invariant (a masked forward
 * pass computes what the physically pruned model computes) and the zeroing step of soft pruning
 * (PSFP, FPGM: zero the dropped filters, let them train, harden at the end).
 */
import * as tf from '@tensorflow/tfjs';
import type { ResNetSpec } from '../model/spec';
import { listParams } from '../model/names';
import type { ParamArrays } from '../model/init';
import { LabError } from '../errors';
import { CONV_OUT_AXIS, groupLayout } from './groups';
import { validateKeepSets } from './keep-set';

/** Per group in the keep-set, a 0/1 vector over its channels (1 = kept). */
export function maskVectors(spec: ResNetSpec, keep: ReadonlyMap<string, readonly number[]>): Map<string, Float32Array> {
  validateKeepSets(spec, keep);
  const out = new Map<string, Float32Array>();
  for (const g of groupLayout(spec).groups) {
    const idx = keep.get(g.id);
    if (!idx) continue;
    const m = new Float32Array(g.channels);
    for (const i of idx) m[i] = 1;
    out.set(g.id, m);
  }
  return out;
}

/**
 * Masks for forward(), keyed by the ids forward() looks up (a group's maskKeys). Groups absent
 * from the keep-set get no mask. The caller owns the tensors: dispose them with disposeMasks.
 */
export function masksFromKeepSets(spec: ResNetSpec, keep: ReadonlyMap<string, readonly number[]>): Map<string, tf.Tensor1D> {
  const vectors = maskVectors(spec, keep);
  const out = new Map<string, tf.Tensor1D>();
  for (const g of groupLayout(spec).groups) {
    const v = vectors.get(g.id);
    if (!v) continue;
    // One tensor per key, so each entry can be disposed independently.
    for (const key of g.maskKeys) out.set(key, tf.tensor1d(v, 'float32'));
  }
  return out;
}

export function disposeMasks(masks: ReadonlyMap<string, tf.Tensor>): void {
  for (const t of masks.values()) t.dispose();
}

/** Zero entries of `data` (row-major, `shape`) whose index along `axis` is dropped (mask 0). */
function zeroAlongAxis(data: Float32Array, shape: readonly number[], axis: number, mask: Float32Array): void {
  const inner = shape.slice(axis + 1).reduce((a, b) => a * b, 1);
  const n = shape[axis];
  const outer = data.length / (inner * n);
  for (let o = 0; o < outer; o++) {
    for (let c = 0; c < n; c++) {
      if (mask[c] !== 0) continue;
      const base = (o * n + c) * inner;
      data.fill(0, base, base + inner);
    }
  }
}

/**
 * Soft pruning on plain arrays: for every group in the keep-set, zero the dropped channels'
 * producer filters (conv out axis) and the gamma and beta of the BatchNorms that produce them,
 * and for the last trunk also the BNNeck's gamma and beta. With gamma = beta = 0 a BatchNorm
 * outputs exactly 0 whatever its input and statistics, so in evaluation (and in training) the
 * soft-pruned network computes what the masked network computes.
 *
 * Pure: returns a new map; changed parameters are fresh copies, the others are the input arrays
 * themselves (not copied, never written).
 */
export function applyKeepSetsToArrays(spec: ResNetSpec, arrays: ParamArrays, keep: ReadonlyMap<string, readonly number[]>): ParamArrays {
  const vectors = maskVectors(spec, keep);
  const shapes = new Map(listParams(spec).map((p) => [p.name, p.shape]));
  const out: ParamArrays = new Map(arrays);
  for (const g of groupLayout(spec).groups) {
    const mask = vectors.get(g.id);
    if (!mask) continue;
    for (const m of g.members) {
      const zeroesIt =
        (m.role === 'producer' && (m.axis === CONV_OUT_AXIS || m.param.endsWith('.weight') || m.param.endsWith('.bias'))) ||
        (m.param.startsWith('bnneck.') && (m.param.endsWith('.weight') || m.param.endsWith('.bias')));
      if (!zeroesIt) continue;
      const src = out.get(m.param);
      const shape = shapes.get(m.param)!;
      const n = shape.reduce((a, b) => a * b, 1);
      if (!src || src.length !== n) {
        throw new LabError('bad-weights', `Parameter ${m.param} should have ${n} values for shape [${shape.join(', ')}]; found ${src ? src.length : 'none'}.`);
      }
      // Copy on first write (a parameter is zeroed by one group per axis at most).
      const dst = src === arrays.get(m.param) ? new Float32Array(src) : src;
      zeroAlongAxis(dst, shape, m.axis, mask);
      out.set(m.param, dst);
    }
  }
  return out;
}
