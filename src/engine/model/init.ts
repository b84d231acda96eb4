/**
 * Seeded initialisation of a spec's parameters, following torchvision's ResNet init: Kaiming
 * normal (fan_out, ReLU) for convs, BatchNorm gamma 1 / beta 0, the last BN of each residual
 * branch zero-initialised (helps training from scratch), classifier N(0, 0.001).
 */
import * as tf from '@tensorflow/tfjs';
import { Prng } from '../util/prng';
import type { ResNetSpec } from './spec';
import { listParams, type ParamInfo } from './names';

export type ParamArrays = Map<string, Float32Array>;

function isResidualLastBn(spec: ResNetSpec, name: string): boolean {
  const last = spec.block === 'basic' ? 'bn2' : 'bn3';
  return /^layer\d+\.\d+\./.test(name) && name.endsWith(`.${last}.weight`);
}

function initOne(spec: ResNetSpec, info: ParamInfo, rng: Prng, zeroInitResidual: boolean): Float32Array {
  const n = info.shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(n);
  switch (info.role) {
    case 'conv': {
      const [kh, kw, , outC] = info.shape;
      const std = Math.sqrt(2 / (kh * kw * outC));
      for (let i = 0; i < n; i++) out[i] = rng.normal(0, std);
      break;
    }
    case 'bn.weight':
      out.fill(zeroInitResidual && isResidualLastBn(spec, info.name) ? 0 : 1);
      break;
    case 'bn.running_var':
      out.fill(1);
      break;
    case 'linear.weight':
      for (let i = 0; i < n; i++) out[i] = rng.normal(0, 0.001);
      break;
    default:
      break; // biases and running means start at 0
  }
  return out;
}

/** Initial parameter values as plain arrays (no tensors), deterministic for a seed. */
export function initParamArrays(spec: ResNetSpec, seed: number, opts: { zeroInitResidual?: boolean } = {}): ParamArrays {
  const rng = new Prng(seed);
  const out: ParamArrays = new Map();
  for (const info of listParams(spec)) {
    // One stream per parameter name, so adding a layer does not change the others.
    out.set(info.name, initOne(spec, info, rng.fork(info.name), opts.zeroInitResidual ?? false));
  }
  return out;
}

/** Turn plain arrays into tensors with the spec's shapes. */
export function arraysToTensors(spec: ResNetSpec, arrays: ParamArrays): Map<string, tf.Tensor> {
  const out = new Map<string, tf.Tensor>();
  for (const info of listParams(spec)) {
    const a = arrays.get(info.name);
    if (!a) throw new Error(`Missing parameter ${info.name}`);
    out.set(info.name, tf.tensor(a, info.shape, 'float32'));
  }
  return out;
}
