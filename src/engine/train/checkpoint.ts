/**
 * Training checkpoints: everything needed to continue a run exactly (parameters, optimiser
 * state, step, sampler and augmentation PRNG states, config) as plain data, and a compact byte
 * format for it:
 *
 *   "PLTC" | u32 version | u32 header length | header JSON (UTF-8) | pad to 4 | tensor data
 *
 * The header lists each array (key, shape, dtype, byte offset). Parameters may be stored as
 * float16 to halve the size (then a resume is close, not bit-exact); optimiser state is always
 * float32.
 */
import { LabError } from '../errors';
import type { ResNetSpec } from '../model/spec';
import type { TrainConfig } from './config';
import type { OptimizerState } from './optimizer';
import type { SamplerState } from './sampler';
import { float32ToFloat16Bits as toFloat16Bits, float16BitsToFloat32 as fromFloat16Bits } from '../model/float16';

export const CHECKPOINT_FORMAT = 'prunability-lab/train-checkpoint@1';

export interface NamedArray {
  shape: number[];
  values: Float32Array;
}

export interface TrainCheckpoint {
  format: typeof CHECKPOINT_FORMAT;
  config: TrainConfig;
  spec: ResNetSpec;
  /** Optimiser steps completed. */
  step: number;
  /** The model's parameters (running statistics included). */
  params: Record<string, NamedArray>;
  /** Parameters owned by the trainer (a fresh classifier for fine-tuning identities). */
  headParams: Record<string, NamedArray>;
  optimizer: OptimizerState;
  sampler: SamplerState;
  augmentRng: number;
  tripletRng: number;
}

const MAGIC = [0x50, 0x4c, 0x54, 0x43]; // "PLTC"
const VERSION = 1;

interface TensorEntry {
  key: string;
  shape: number[];
  dtype: 'float32' | 'float16';
  offset: number;
  length: number;
}

// float16 conversion lives in one place (model/float16.ts); re-exported under the names the
// checkpoint code and its tests use.
export { float32ToFloat16Bits as toFloat16Bits, float16BitsToFloat32 as fromFloat16Bits } from '../model/float16';

// ---- serialisation ----------------------------------------------------------------------

export interface SerializeOptions {
  /** Store parameters (not optimiser state) as float16. */
  paramsFloat16?: boolean;
}

/** Checkpoint -> bytes. */
export function serializeCheckpoint(ckpt: TrainCheckpoint, opts: SerializeOptions = {}): Uint8Array {
  const arrays: { key: string; a: NamedArray; half: boolean }[] = [];
  for (const [k, a] of Object.entries(ckpt.params)) arrays.push({ key: `params/${k}`, a, half: !!opts.paramsFloat16 });
  for (const [k, a] of Object.entries(ckpt.headParams)) arrays.push({ key: `head/${k}`, a, half: !!opts.paramsFloat16 });
  for (const [k, s] of Object.entries(ckpt.optimizer.slots)) {
    s.values.forEach((values, i) => arrays.push({ key: `opt/${i}/${k}`, a: { shape: s.shape, values }, half: false }));
  }
  const entries: TensorEntry[] = [];
  let offset = 0;
  for (const { key, a, half } of arrays) {
    const length = a.values.length * (half ? 2 : 4);
    entries.push({ key, shape: a.shape, dtype: half ? 'float16' : 'float32', offset, length });
    offset += length + (length % 4 ? 4 - (length % 4) : 0);
  }
  const header = {
    format: ckpt.format,
    config: ckpt.config,
    spec: ckpt.spec,
    step: ckpt.step,
    optimizer: { kind: ckpt.optimizer.kind, step: ckpt.optimizer.step },
    sampler: ckpt.sampler,
    augmentRng: ckpt.augmentRng,
    tripletRng: ckpt.tripletRng,
    tensors: entries,
  };
  const json = new TextEncoder().encode(JSON.stringify(header));
  const headLen = 12 + json.length;
  const dataStart = headLen + ((4 - (headLen % 4)) % 4);
  const out = new Uint8Array(dataStart + offset);
  const view = new DataView(out.buffer);
  out.set(MAGIC, 0);
  view.setUint32(4, VERSION, true);
  view.setUint32(8, json.length, true);
  out.set(json, 12);
  arrays.forEach(({ a, half }, i) => {
    const at = dataStart + entries[i].offset;
    if (half) {
      for (let j = 0; j < a.values.length; j++) view.setUint16(at + 2 * j, toFloat16Bits(a.values[j]), true);
    } else {
      out.set(new Uint8Array(a.values.buffer, a.values.byteOffset, a.values.byteLength), at);
    }
  });
  return out;
}

/** Bytes -> checkpoint; throws LabError('bad-argument') for anything that is not one. */
export function deserializeCheckpoint(bytes: Uint8Array): TrainCheckpoint {
  const fail = (why: string): never => {
    throw new LabError('bad-argument', `This is not a readable training checkpoint: ${why}.`);
  };
  if (bytes.length < 12 || MAGIC.some((m, i) => bytes[i] !== m)) fail('it does not start with the checkpoint signature');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint32(4, true);
  if (version !== VERSION) fail(`its version is ${version}, expected ${VERSION}`);
  const jsonLen = view.getUint32(8, true);
  if (12 + jsonLen > bytes.length) fail('its header is truncated');
  let header: {
    format: string; config: TrainConfig; spec: ResNetSpec; step: number; optimizer: { kind: OptimizerState['kind']; step: number };
    sampler: SamplerState; augmentRng: number; tripletRng: number; tensors: TensorEntry[];
  };
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(12, 12 + jsonLen)));
  } catch {
    return fail('its header is not valid JSON');
  }
  if (header.format !== CHECKPOINT_FORMAT) fail(`its format is "${String(header.format)}", expected "${CHECKPOINT_FORMAT}"`);
  const headLen = 12 + jsonLen;
  const dataStart = headLen + ((4 - (headLen % 4)) % 4);
  const ckpt: TrainCheckpoint = {
    format: CHECKPOINT_FORMAT,
    config: header.config,
    spec: header.spec,
    step: header.step,
    params: {},
    headParams: {},
    optimizer: { kind: header.optimizer.kind, step: header.optimizer.step, slots: {} },
    sampler: header.sampler,
    augmentRng: header.augmentRng,
    tripletRng: header.tripletRng,
  };
  for (const e of header.tensors) {
    const n = e.shape.reduce((a, b) => a * b, 1);
    const at = dataStart + e.offset;
    if (e.length !== n * (e.dtype === 'float16' ? 2 : 4) || at + e.length > bytes.length) fail(`tensor ${e.key} is truncated or mis-sized`);
    const values = new Float32Array(n);
    if (e.dtype === 'float16') for (let j = 0; j < n; j++) values[j] = fromFloat16Bits(view.getUint16(at + 2 * j, true));
    else for (let j = 0; j < n; j++) values[j] = view.getFloat32(at + 4 * j, true);
    const slash = e.key.indexOf('/');
    const kind = e.key.slice(0, slash);
    const rest = e.key.slice(slash + 1);
    if (kind === 'params') ckpt.params[rest] = { shape: e.shape, values };
    else if (kind === 'head') ckpt.headParams[rest] = { shape: e.shape, values };
    else if (kind === 'opt') {
      const s2 = rest.indexOf('/');
      const slot = Number(rest.slice(0, s2));
      const name = rest.slice(s2 + 1);
      const entry = (ckpt.optimizer.slots[name] ??= { shape: e.shape, values: [] });
      entry.values[slot] = values;
    } else fail(`it holds an unknown tensor ${e.key}`);
  }
  return ckpt;
}
