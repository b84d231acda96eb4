/**
 * Saving and loading models in the tfjs weights-manifest format, so every tf.io handler works
 * (http(s) URLs, 'indexeddb://', 'downloads://', tf.io.browserFiles, the Node folder handler in
 * src/node/model-files.ts).
 *
 * model.json:
 *   {
 *     format: 'prunability-lab/model@1',
 *     generatedBy: 'Prunability Lab',
 *     modelTopology: { spec: ResNetSpec },        // the lab's own topology: per-layer channels
 *     weightsManifest: [{ paths: ['group1-shard1of2.bin', ...],
 *                         weights: [{ name, shape, dtype: 'float32', quantization?: {dtype: 'float16'} }] }],
 *     userDefinedMetadata?: { card?: {...}, ...free-form }
 *   }
 *
 * Weight names are the PyTorch state_dict keys (names.ts), but the VALUES ARE STORED IN THE
 * LAB'S TFJS LAYOUT, not PyTorch's: conv weights [kh, kw, in, out], linear weights [in, out].
 * (state-dict.ts / safetensors.ts convert to and from PyTorch's [out, in, kh, kw] / [out, in].)
 * Shards are the concatenated little-endian weight bytes cut into pieces of at most 4 MiB, in
 * manifest order, as tfjs's converter does. docs/MODEL_FORMAT.md describes the format in full.
 *
 * Loading validates everything (format, spec, names, shapes, dtypes, byte counts, finite values)
 * before a single tensor is created, so a bad file never leaves a half-loaded model behind.
 */
import * as tf from '@tensorflow/tfjs';
import { LabError, isLabError } from '../errors';
import { SpecError, validateSpec, cloneSpec, type ResNetSpec } from './spec';
import { listParams } from './names';
import type { ParamArrays } from './init';
import { ReidModel } from './model';
import { FLOAT16_MAX, decodeFloat16, encodeFloat16 } from './float16';

export const MODEL_FORMAT = 'prunability-lab/model@1';
export const GENERATED_BY = 'Prunability Lab';
/** tfjs converter's default shard size; the lab writes the same. */
export const SHARD_BYTES = 4 * 1024 * 1024;

export type WeightStorage = 'float32' | 'float16';

export interface ExportOptions {
  /** Storage precision; float16 halves the download and is decoded by tfjs itself. */
  dtype?: WeightStorage;
  /** Free-form model card (dataset, mAP, provenance); stored as userDefinedMetadata.card. */
  card?: Record<string, unknown>;
  userDefinedMetadata?: Record<string, unknown>;
}

/** What model.json's modelTopology holds. */
export interface LabTopology {
  spec: ResNetSpec;
}

/**
 * tf.io.ModelArtifacts plus, when the loader knows it (our Node handler does), the manifest with
 * shard paths, so a short shard can be named by its file name.
 */
export interface LabArtifacts extends tf.io.ModelArtifacts {
  weightsManifest?: tf.io.WeightsManifestConfig;
}

export interface LoadedArrays {
  spec: ResNetSpec;
  arrays: ParamArrays;
  card?: Record<string, unknown>;
  userDefinedMetadata?: Record<string, unknown>;
}

export interface LoadedModel {
  model: ReidModel;
  card?: Record<string, unknown>;
  userDefinedMetadata?: Record<string, unknown>;
}

const numel = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);
/** A shape for messages; an edited manifest may hold anything where a shape should be. */
const fmtShape = (shape: unknown) => (Array.isArray(shape) ? `[${shape.map((d) => (typeof d === 'number' ? d : JSON.stringify(d))).join(', ')}]` : describeValue(shape));

function describeValue(v: unknown): string {
  if (v === undefined) return 'nothing';
  const j = typeof v === 'string' ? JSON.stringify(v) : JSON.stringify(v) ?? String(v);
  return j.length > 60 ? `${j.slice(0, 57)}...` : j;
}

const isShape = (v: unknown): v is number[] => Array.isArray(v) && v.every((d) => Number.isSafeInteger(d) && d >= 0);

/** The file names tfjs's converter gives shards: group1-shard1of3.bin, ... */
export function shardFileNames(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `group1-shard${i + 1}of${n}.bin`);
}

/** Cut a byte buffer into shards of at most `shardBytes`. */
export function splitIntoShards(data: ArrayBuffer, shardBytes = SHARD_BYTES): ArrayBuffer[] {
  const out: ArrayBuffer[] = [];
  for (let off = 0; off < data.byteLength; off += shardBytes) out.push(data.slice(off, Math.min(data.byteLength, off + shardBytes)));
  if (out.length === 0) out.push(new ArrayBuffer(0));
  return out;
}

/** Encode a spec and its parameter arrays (lab layout) as tfjs model artifacts. */
export function modelToArtifacts(spec: ResNetSpec, arrays: ParamArrays, opts: ExportOptions = {}): LabArtifacts {
  try {
    validateSpec(spec);
  } catch (e) {
    throw asLabError(e, 'bad-argument');
  }
  const storage = opts.dtype ?? 'float32';
  if (storage !== 'float32' && storage !== 'float16') {
    throw new LabError('bad-argument', `Weights can be stored as float32 or float16; "${String(storage)}" is not supported.`);
  }
  const infos = listParams(spec);
  const specs: tf.io.WeightsManifestEntry[] = [];
  const parts: Uint8Array[] = [];
  let total = 0;
  for (const info of infos) {
    const a = arrays.get(info.name);
    const n = numel(info.shape);
    if (!a) throw new LabError('bad-argument', `Cannot save the model: parameter ${info.name} is missing.`, { tensor: info.name });
    if (a.length !== n) {
      throw new LabError('bad-argument', `Cannot save the model: ${info.name} has ${a.length} values; shape ${fmtShape(info.shape)} needs ${n}.`, {
        tensor: info.name,
        expected: n,
        found: a.length,
      });
    }
    const entry: tf.io.WeightsManifestEntry = { name: info.name, shape: [...info.shape], dtype: 'float32' };
    let bytes: Uint8Array;
    if (storage === 'float16') {
      for (let i = 0; i < a.length; i++) {
        if (Math.abs(a[i]) > FLOAT16_MAX) {
          throw new LabError('bad-argument', `${info.name} holds ${a[i]}, beyond float16's range (±${FLOAT16_MAX}); save it as float32.`, {
            tensor: info.name,
          });
        }
      }
      entry.quantization = { dtype: 'float16' };
      const h = encodeFloat16(a);
      bytes = new Uint8Array(h.buffer, h.byteOffset, h.byteLength);
    } else {
      bytes = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
    }
    specs.push(entry);
    parts.push(bytes);
    total += bytes.byteLength;
  }
  const data = new Uint8Array(total);
  let off = 0;
  for (const p of parts) {
    data.set(p, off);
    off += p.byteLength;
  }
  const userDefinedMetadata: Record<string, unknown> = { ...(opts.userDefinedMetadata ?? {}) };
  if (opts.card) userDefinedMetadata.card = opts.card;
  const topology: LabTopology = { spec: cloneSpec(spec) };
  return {
    format: MODEL_FORMAT,
    generatedBy: GENERATED_BY,
    convertedBy: null,
    modelTopology: topology,
    weightSpecs: specs,
    weightData: data.buffer,
    ...(Object.keys(userDefinedMetadata).length > 0 ? { userDefinedMetadata: userDefinedMetadata as { [key: string]: {} } } : {}),
  };
}

/** model.json contents for artifacts whose weights are written to `paths`. */
export function artifactsToModelJson(artifacts: tf.io.ModelArtifacts, paths: string[]): tf.io.ModelJSON {
  return {
    format: artifacts.format,
    generatedBy: artifacts.generatedBy,
    convertedBy: artifacts.convertedBy ?? null,
    modelTopology: artifacts.modelTopology as {},
    weightsManifest: [{ paths, weights: artifacts.weightSpecs ?? [] }],
    ...(artifacts.userDefinedMetadata ? { userDefinedMetadata: artifacts.userDefinedMetadata } : {}),
  };
}

function asLabError(e: unknown, code: 'bad-model-file' | 'bad-argument'): LabError {
  if (isLabError(e)) return e;
  if (e instanceof SpecError) return new LabError(code, `The model's architecture is invalid: ${e.message}`);
  // Anything else is a malformed spec object (e.g. a stage that is not a list).
  return new LabError(code, `The model's architecture (modelTopology.spec) is malformed: ${e instanceof Error ? e.message : String(e)}.`);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof ArrayBuffer);
}

interface Problem {
  tensor: string;
  expected: string;
  found: string;
}

function throwProblems(problems: Problem[], intro: string): never {
  const shown = problems.slice(0, 6).map((p) => `${p.tensor}: expected ${p.expected}, found ${p.found}`);
  const more = problems.length > shown.length ? `; and ${problems.length - shown.length} more` : '';
  throw new LabError('bad-weights', `${intro} ${shown.join('; ')}${more}.`, { problems });
}

/**
 * Byte length each shard should have: tfjs writers cut the byte stream into equal shards with a
 * shorter last one. With the standard 4 MiB cut we know every shard's size; otherwise only the
 * total can be checked (null).
 */
function expectedShardSizes(total: number, n: number): number[] | null {
  if (n === 1) return [total];
  if (Math.ceil(total / SHARD_BYTES) !== n) return null;
  return Array.from({ length: n }, (_, i) => Math.min(SHARD_BYTES, total - i * SHARD_BYTES));
}

function checkAndJoinWeightData(artifacts: LabArtifacts, expectedTotal: number): ArrayBuffer {
  const wd = artifacts.weightData;
  if (wd === undefined || wd === null) throw new LabError('bad-weights', 'The model file has a weights manifest but no weight data was loaded.');
  const buffers = Array.isArray(wd) ? wd : [wd];
  const paths = artifacts.weightsManifest?.flatMap((g) => g.paths);
  const shardName = (i: number) =>
    paths && paths.length === buffers.length ? `Weight shard ${paths[i]}` : buffers.length === 1 ? 'The weight data' : `Weight shard ${i + 1} of ${buffers.length}`;
  const sizes = buffers.map((b) => b.byteLength);
  const found = sizes.reduce((a, b) => a + b, 0);
  const expected = expectedShardSizes(expectedTotal, buffers.length);
  if (expected) {
    for (let i = 0; i < buffers.length; i++) {
      if (sizes[i] !== expected[i]) {
        throw new LabError('bad-weights', `${shardName(i)} has ${sizes[i]} bytes; the manifest needs ${expected[i]} (the file is truncated or does not belong to this model).`, {
          shard: paths?.[i] ?? i,
          expected: expected[i],
          found: sizes[i],
        });
      }
    }
  } else if (found !== expectedTotal) {
    throw new LabError('bad-weights', `The ${buffers.length} weight shards hold ${found} bytes; the manifest needs ${expectedTotal}.`, {
      expected: expectedTotal,
      found,
    });
  }
  return tf.io.CompositeArrayBuffer.join(buffers);
}

/**
 * Decode and validate artifacts written by modelToArtifacts (or any tfjs handler that stored
 * them). Throws LabError ('bad-model-file' for the topology, 'bad-weights' for the weights); never
 * creates tensors.
 */
export function artifactsToModel(artifacts: LabArtifacts): LoadedArrays {
  if (artifacts.format === undefined || artifacts.format === null) {
    // tfjs leaves format empty for a model.json without one, e.g. a Keras or graph model.
    throw new LabError(
      'bad-model-file',
      `This model.json has no "format" field, so it is not a Prunability Lab model (expected "${MODEL_FORMAT}"); open a model.json the lab or its PyTorch companion wrote, with its .bin weight files.`,
      { expected: MODEL_FORMAT, found: null },
    );
  }
  if (artifacts.format !== MODEL_FORMAT) {
    throw new LabError(
      'bad-model-file',
      `This is not a Prunability Lab model: its format is "${String(artifacts.format)}"; expected "${MODEL_FORMAT}".`,
      { expected: MODEL_FORMAT, found: artifacts.format },
    );
  }
  const topo = artifacts.modelTopology;
  if (!isPlainObject(topo) || !isPlainObject(topo.spec)) {
    throw new LabError('bad-model-file', 'The model file has no architecture: modelTopology.spec is missing.');
  }
  const spec = cloneSpec(topo.spec as unknown as ResNetSpec);
  try {
    validateSpec(spec);
  } catch (e) {
    throw asLabError(e, 'bad-model-file');
  }
  const specs = artifacts.weightSpecs;
  if (!Array.isArray(specs)) throw new LabError('bad-weights', 'The model file has no weights manifest.');

  // Names, shapes and dtypes against what the spec implies.
  const expected = new Map(listParams(spec).map((p) => [p.name, p]));
  const problems: Problem[] = [];
  const seen = new Set<string>();
  let total = 0;
  const layout: { name: string; offset: number; bytes: number; half: boolean; n: number }[] = [];
  for (const [index, w] of specs.entries()) {
    // An edited manifest can hold anything: name entries by position when they have no name.
    if (!isPlainObject(w) || typeof w.name !== 'string') {
      problems.push({ tensor: `weights manifest entry ${index + 1}`, expected: 'an object with a name, shape and dtype', found: describeValue(w) });
      continue;
    }
    const q: unknown = w.quantization;
    const bytesPer = q !== undefined && q !== null ? (isPlainObject(q) && q.dtype === 'float16' ? 2 : 0) : w.dtype === 'float32' ? 4 : 0;
    const n = isShape(w.shape) ? numel(w.shape) : NaN;
    const info = expected.get(w.name);
    if (seen.has(w.name)) problems.push({ tensor: w.name, expected: 'one entry', found: 'a duplicate entry' });
    seen.add(w.name);
    if (!info) {
      problems.push({ tensor: w.name, expected: 'no such tensor in this architecture', found: `an unknown weight of shape ${fmtShape(w.shape)}` });
    } else if (!isShape(w.shape) || w.shape.length !== info.shape.length || w.shape.some((d, i) => d !== info.shape[i])) {
      problems.push({ tensor: w.name, expected: `shape ${fmtShape(info.shape)}`, found: `shape ${fmtShape(w.shape)}` });
    }
    if (bytesPer === 0) {
      const found = q !== undefined && q !== null ? `quantization ${describeValue(isPlainObject(q) ? q.dtype : q)}` : `dtype ${describeValue(w.dtype)}`;
      problems.push({ tensor: w.name, expected: 'float32 values (optionally stored as float16)', found });
    }
    // tfjs lays weights out back to back in manifest order; we must follow the same offsets.
    const bytes = (Number.isFinite(n) ? n : 0) * (bytesPer || 4);
    layout.push({ name: w.name, offset: total, bytes, half: bytesPer === 2, n });
    total += bytes;
  }
  for (const name of expected.keys()) {
    if (!seen.has(name)) problems.push({ tensor: name, expected: `shape ${fmtShape(expected.get(name)!.shape)}`, found: 'nothing (missing)' });
  }
  if (problems.length > 0) throwProblems(problems, "The model's weights do not match its architecture:");

  const data = checkAndJoinWeightData(artifacts, total);
  const arrays: ParamArrays = new Map();
  const nonFinite: Problem[] = [];
  for (const l of layout) {
    const slice = data.slice(l.offset, l.offset + l.bytes);
    const values = l.half ? decodeFloat16(new Uint16Array(slice)) : new Float32Array(slice);
    let bad = 0;
    let first = -1;
    for (let i = 0; i < values.length; i++) {
      if (!Number.isFinite(values[i])) {
        bad++;
        if (first < 0) first = i;
      }
    }
    if (bad > 0) nonFinite.push({ tensor: l.name, expected: 'finite values', found: `${bad} NaN/Infinity value(s), the first at flat index ${first}` });
    arrays.set(l.name, values);
  }
  if (nonFinite.length > 0) throwProblems(nonFinite, 'The model holds non-finite weights:');

  const udm = isPlainObject(artifacts.userDefinedMetadata) ? (artifacts.userDefinedMetadata as Record<string, unknown>) : undefined;
  const card = udm && isPlainObject(udm.card) ? (udm.card as Record<string, unknown>) : undefined;
  return { spec, arrays, ...(card ? { card } : {}), ...(udm ? { userDefinedMetadata: udm } : {}) };
}

/** Files a user picked: model.json first (tf.io.browserFiles' convention), then the shards. */
function orderModelFiles(files: ArrayLike<File>): File[] {
  const list = Array.from(files);
  const json = list.filter((f) => f.name.endsWith('.json'));
  if (json.length !== 1) {
    throw new LabError('bad-model-file', `Pick exactly one model.json together with its .bin weight shards; found ${json.length} .json files.`);
  }
  return [json[0], ...list.filter((f) => f !== json[0])];
}

function isFileList(x: unknown): x is ArrayLike<File> {
  return typeof File !== 'undefined' && (Array.isArray(x) || (typeof FileList !== 'undefined' && x instanceof FileList));
}

function resolveLoadHandler(source: string | tf.io.IOHandler | ArrayLike<File>): tf.io.IOHandler {
  if (typeof source === 'string') {
    const handlers = tf.io.getLoadHandlers(source);
    if (handlers.length === 0) throw new LabError('bad-argument', `No way to load a model from "${source}": expected an http(s) URL or indexeddb://name.`);
    return handlers[0];
  }
  if (isFileList(source)) return tf.io.browserFiles(orderModelFiles(source));
  return source as tf.io.IOHandler;
}

/** Load and validate a model's spec and arrays (no tensors). */
export async function loadModelArrays(source: string | tf.io.IOHandler | ArrayLike<File>): Promise<LoadedArrays> {
  const handler = resolveLoadHandler(source);
  if (!handler.load) throw new LabError('bad-argument', 'This storage location cannot load models.');
  let artifacts: tf.io.ModelArtifacts;
  try {
    artifacts = await handler.load();
  } catch (e) {
    if (isLabError(e)) throw e;
    // tfjs's handlers walk the manifest without checking it: a TypeError means a malformed one.
    if (e instanceof TypeError) {
      throw new LabError('bad-model-file', `The model.json is malformed: its weightsManifest must be a list of groups, each with a "paths" list of shard files and a "weights" list (the reader stopped at: ${e.message}).`);
    }
    throw new LabError('bad-model-file', `The model could not be read: ${e instanceof Error ? e.message : String(e)}`);
  }
  return artifactsToModel(artifacts);
}

/** Load a model from a URL ('https://…/model.json', 'indexeddb://name'), an IOHandler, or picked files. */
export async function loadModel(source: string | tf.io.IOHandler | ArrayLike<File>): Promise<LoadedModel> {
  const { spec, arrays, card, userDefinedMetadata } = await loadModelArrays(source);
  const model = ReidModel.fromArrays(spec, arrays);
  return { model, ...(card ? { card } : {}), ...(userDefinedMetadata ? { userDefinedMetadata } : {}) };
}

/** Save a model to a URL scheme ('indexeddb://name', 'downloads://name', http(s)) or an IOHandler. */
export async function saveModel(model: ReidModel, dest: string | tf.io.IOHandler, opts: ExportOptions = {}): Promise<tf.io.SaveResult> {
  let handler: tf.io.IOHandler;
  if (typeof dest === 'string') {
    const handlers = tf.io.getSaveHandlers(dest);
    if (handlers.length === 0) throw new LabError('bad-argument', `No way to save a model to "${dest}": expected indexeddb://, downloads:// or an http(s) URL.`);
    handler = handlers[0];
  } else {
    handler = dest;
  }
  if (!handler.save) throw new LabError('bad-argument', 'This storage location cannot save models.');
  const artifacts = modelToArtifacts(model.spec, await model.toArrays(), opts);
  try {
    return await handler.save(artifacts);
  } catch (e) {
    if (isLabError(e)) throw e;
    throw new LabError('storage', `The model could not be saved: ${e instanceof Error ? e.message : String(e)}`);
  }
}
