/** Shared helpers of the ONNX tests: random non-trivial weights, random keep-sets, runners. */
import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';
import type { ResNetSpec } from '../../src/engine/model/spec';
import { listParams } from '../../src/engine/model/names';
import { initParamArrays, type ParamArrays } from '../../src/engine/model/init';
import { ReidModel } from '../../src/engine/model/model';
import { Prng } from '../../src/engine/util/prng';
import { groupsInScope, type PruneScope } from '../../src/engine/prune/groups';
import type { KeepSets } from '../../src/engine/prune/keep-set';

/** Random BN statistics and affine parameters: identity BNs would make equivalence too easy. */
export function randomArrays(spec: ResNetSpec, seed: number): ParamArrays {
  const arrays = initParamArrays(spec, seed);
  const rng = new Prng(seed).fork('onnx-bn');
  for (const p of listParams(spec)) {
    const a = arrays.get(p.name)!;
    for (let i = 0; i < a.length; i++) {
      if (p.role === 'bn.weight') a[i] = rng.uniform(0.5, 1.5) * (rng.bool(0.2) ? -1 : 1);
      else if (p.role === 'bn.bias' || p.role === 'bn.running_mean') a[i] = rng.normal(0, 0.3);
      else if (p.role === 'bn.running_var') a[i] = rng.uniform(0.5, 2);
      else if (p.role === 'linear.weight' || p.role === 'linear.bias') a[i] = rng.normal(0, 0.2);
    }
  }
  return arrays;
}

/** Every group in scope cut to a random non-empty subset. */
export function randomKeep(spec: ResNetSpec, scope: PruneScope, seed: number): KeepSets {
  const rng = new Prng(seed).fork('onnx-keep');
  const keep: KeepSets = new Map();
  for (const g of groupsInScope(spec, scope)) {
    if (g.channels < 2) continue;
    const k = rng.int(1, g.channels - 1);
    const all = Array.from({ length: g.channels }, (_, i) => i);
    keep.set(g.id, rng.shuffle(all).slice(0, k).sort((a, b) => a - b));
  }
  return keep;
}

/** Seeded normal NHWC images and their NCHW copy. */
export function randomImages(n: number, h: number, w: number, seed: number): { nhwc: tf.Tensor4D; nchw: Float32Array } {
  const rng = new Prng(seed).fork('onnx-images');
  const v = new Float32Array(n * h * w * 3);
  for (let i = 0; i < v.length; i++) v[i] = rng.normal(0, 1);
  const nchw = new Float32Array(v.length);
  for (let b = 0; b < n; b++)
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++) for (let c = 0; c < 3; c++) nchw[((b * 3 + c) * h + y) * w + x] = v[((b * h + y) * w + x) * 3 + c];
  return { nhwc: tf.tensor4d(v, [n, h, w, 3]), nchw };
}

export async function labEmbeddings(spec: ResNetSpec, arrays: ParamArrays, x: tf.Tensor4D): Promise<Float32Array> {
  const m = ReidModel.fromArrays(spec, arrays);
  const e = m.embed(x);
  const out = (await e.data()) as Float32Array;
  e.dispose();
  m.dispose();
  return out;
}

export async function ortRun(bytes: Uint8Array, nchw: Float32Array, dims: number[]): Promise<Record<string, Float32Array>> {
  const s = await ort.InferenceSession.create(bytes);
  const feeds = { [s.inputNames[0]]: new ort.Tensor('float32', nchw, dims) };
  const out = await s.run(feeds);
  const res: Record<string, Float32Array> = {};
  for (const k of Object.keys(out)) res[k] = out[k].data as Float32Array;
  await s.release();
  return res;
}

/** Largest absolute difference, relative to the reference's scale (at least 1). */
export function relMaxDiff(ref: ArrayLike<number>, got: ArrayLike<number>): number {
  if (ref.length !== got.length) return Infinity;
  let d = 0;
  let scale = 1;
  for (let i = 0; i < ref.length; i++) {
    d = Math.max(d, Math.abs(ref[i] - got[i]));
    scale = Math.max(scale, Math.abs(ref[i]));
  }
  return d / scale;
}
