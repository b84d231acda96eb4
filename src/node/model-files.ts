/**
 * Node: a tf.io handler that saves and loads a model folder (model.json + weight shards of at
 * most 4 MiB named group1-shard{i}of{n}.bin), the same files the browser's http handler reads,
 * so `public/models/<name>/` can be written from the CLI and served as is.
 * Node-only (fs, path): never import from browser code.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import { LabError } from '../engine/errors';
import { readBounded } from './bounded-read';
import { safetensorsToModel } from '../engine/model/safetensors';
import { describeExternalLineage } from '../engine/model/lineage';
import { importOnnx } from '../engine/onnx/import';
import { ReidModel } from '../engine/model/model';
import {
  SHARD_BYTES,
  artifactsToModelJson,
  loadModel,
  loadModelArrays,
  modelToArtifacts,
  shardFileNames,
  splitIntoShards,
  type ExportOptions,
  type LabArtifacts,
  type LoadedArrays,
  type LoadedModel,
} from '../engine/model/weights-io';

export const MODEL_JSON = 'model.json';
/** A model.json holds a spec and a manifest: kilobytes. Anything near this is not one. */
const MAX_MODEL_JSON_BYTES = 64 << 20;
/** The most weight bytes a manifest may declare (ResNet-50 at width 2 in float32 is ~0.4 GB). */
const MAX_WEIGHT_BYTES = 2 ** 31;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const show = (v: unknown) => {
  const j = v === undefined ? 'nothing' : JSON.stringify(v) ?? String(v);
  return j.length > 60 ? `${j.slice(0, 57)}...` : j;
};

/** The weights manifest of a parsed model.json, checked group by group (named by position). */
function checkManifest(json: unknown, jsonPath: string): tf.io.WeightsManifestConfig {
  if (!isObject(json)) throw new LabError('bad-model-file', `${jsonPath} holds ${show(json)}, not a model: expected a JSON object with format, modelTopology and weightsManifest.`);
  const manifest = json.weightsManifest;
  if (!Array.isArray(manifest)) throw new LabError('bad-model-file', `${jsonPath} has no weightsManifest list (found ${show(manifest)}); it is not a tfjs model.json.`);
  manifest.forEach((g: unknown, i) => {
    const where = `${jsonPath}: weightsManifest group ${i + 1}`;
    if (!isObject(g)) throw new LabError('bad-model-file', `${where} is ${show(g)}; expected an object with a paths list and a weights list.`);
    if (!Array.isArray(g.paths) || g.paths.some((p) => typeof p !== 'string' || p.length === 0)) {
      throw new LabError('bad-model-file', `${where} has paths ${show(g.paths)}; expected a list of shard file names.`);
    }
    if (!Array.isArray(g.weights)) throw new LabError('bad-model-file', `${where} has weights ${show(g.weights)}; expected a list of weight entries.`);
  });
  return manifest as tf.io.WeightsManifestConfig;
}

/** Bytes the manifest's entries take (entries whose size cannot be read count 0; the loader refuses them later). */
function declaredWeightBytes(manifest: tf.io.WeightsManifestConfig): number {
  let total = 0;
  for (const w of manifest.flatMap((g) => g.weights) as unknown[]) {
    if (!isObject(w) || !Array.isArray(w.shape) || !w.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) continue;
    const q = isObject(w.quantization) ? w.quantization.dtype : undefined;
    const per = q === 'float16' || q === 'uint16' ? 2 : q === 'uint8' ? 1 : 4;
    total += (w.shape as number[]).reduce((a, b) => a * b, 1) * per;
    if (total > MAX_WEIGHT_BYTES) return MAX_WEIGHT_BYTES;
  }
  return total;
}

async function realDir(dir: string): Promise<string> {
  try {
    return await fs.realpath(dir);
  } catch {
    throw new LabError('bad-model-file', `No model found: the folder ${dir} does not exist or cannot be read.`);
  }
}

/**
 * The file a shard path names, which must lie inside the model folder (after following
 * symbolic links): a model.json must not make the lab read /etc/passwd or /dev/zero.
 */
async function shardInside(root: string, dir: string, p: string): Promise<string> {
  const outside = () =>
    new LabError('bad-model-file', `${MODEL_JSON} in ${dir} lists the weight shard "${p}", which is outside the model folder; shard paths must name files inside it (e.g. group1-shard1of1.bin).`, { shard: p });
  const inside = (f: string) => {
    const rel = path.relative(root, f);
    return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
  };
  if (path.isAbsolute(p) || p.includes('\0') || !inside(path.resolve(root, p))) throw outside();
  let real: string;
  try {
    real = await fs.realpath(path.resolve(root, p));
  } catch {
    throw new LabError('bad-weights', `Weight shard ${p} listed in ${MODEL_JSON} is missing from ${dir}.`, { shard: p });
  }
  if (!inside(real)) throw outside();
  return real;
}

function joinWeightData(wd: tf.io.WeightData): ArrayBuffer {
  const buffers = Array.isArray(wd) ? wd : [wd];
  const total = buffers.reduce((n, b) => n + b.byteLength, 0);
  const out = new Uint8Array(total);
  let off = 0;
  for (const b of buffers) {
    out.set(new Uint8Array(b), off);
    off += b.byteLength;
  }
  return out.buffer;
}

/** Save and load handler for one model folder. */
export function modelFolder(dir: string, opts: { shardBytes?: number } = {}): tf.io.IOHandler {
  const shardBytes = opts.shardBytes ?? SHARD_BYTES;
  return {
    async save(artifacts: tf.io.ModelArtifacts): Promise<tf.io.SaveResult> {
      const data = artifacts.weightData ? joinWeightData(artifacts.weightData) : new ArrayBuffer(0);
      const shards = splitIntoShards(data, shardBytes);
      const names = shardFileNames(shards.length);
      const json = artifactsToModelJson(artifacts, names);
      try {
        await fs.mkdir(dir, { recursive: true });
        // Shards first, model.json last: a folder with a model.json is a complete model.
        for (let i = 0; i < shards.length; i++) await fs.writeFile(path.join(dir, names[i]), new Uint8Array(shards[i]));
        await fs.writeFile(path.join(dir, MODEL_JSON), JSON.stringify(json, null, 1) + '\n');
      } catch (e) {
        throw new LabError('storage', `Could not write the model to ${dir}: ${(e as Error).message}`);
      }
      return {
        modelArtifactsInfo: {
          dateSaved: new Date(),
          modelTopologyType: 'JSON',
          weightDataBytes: data.byteLength,
          weightSpecsBytes: JSON.stringify(json.weightsManifest).length,
          modelTopologyBytes: JSON.stringify(json.modelTopology).length,
        },
      };
    },

    async load(): Promise<LabArtifacts> {
      const jsonPath = path.join(dir, MODEL_JSON);
      const text = new TextDecoder().decode(
        await readBounded(jsonPath, MAX_MODEL_JSON_BYTES, 'bad-model-file', {
          missing: `No model found: ${jsonPath} does not exist or cannot be read.`,
          tooBig: (n) => `${jsonPath} has ${n} bytes; a model.json holds the architecture and the weights manifest, at most ${MAX_MODEL_JSON_BYTES} bytes. Is it the right file?`,
        }),
      );
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch (e) {
        throw new LabError('bad-model-file', `${jsonPath} is not valid JSON (${(e as Error).message}).`);
      }
      const manifest = checkManifest(json, jsonPath);
      const m = json as tf.io.ModelJSON;
      // Never read more than the manifest says the weights take: a shard path naming a device
      // or a huge file must not be read to its end.
      let budget = declaredWeightBytes(manifest);
      const root = await realDir(dir);
      const buffers: ArrayBuffer[] = [];
      for (const p of manifest.flatMap((g) => g.paths)) {
        const file = await shardInside(root, dir, p);
        const b = await readBounded(file, budget, 'bad-weights', {
          missing: `Weight shard ${p} listed in ${MODEL_JSON} is missing from ${dir}.`,
          tooBig: (n) => `Weight shard ${p} in ${dir} has at least ${n} bytes, more than the ${budget} bytes of weights its ${MODEL_JSON} leaves for it; the shard does not belong to this model.`,
        });
        budget -= b.byteLength;
        buffers.push(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer);
      }
      return {
        format: m.format,
        generatedBy: m.generatedBy,
        convertedBy: m.convertedBy,
        modelTopology: m.modelTopology,
        userDefinedMetadata: m.userDefinedMetadata,
        weightSpecs: manifest.flatMap((g) => g.weights),
        weightData: buffers,
        weightsManifest: manifest,
      };
    },
  };
}

export async function saveModelToFolder(model: ReidModel, dir: string, opts: ExportOptions = {}): Promise<void> {
  await modelFolder(dir).save!(modelToArtifacts(model.spec, await model.toArrays(), opts));
}

export function loadModelFromFolder(dir: string): Promise<LoadedModel> {
  return loadModel(modelFolder(dir));
}

export function loadArraysFromFolder(dir: string): Promise<LoadedArrays> {
  return loadModelArrays(modelFolder(dir));
}

/** The most bytes a single .safetensors or .onnx file may have (ResNet-50 at width 2 is ~0.4 GB in float32). */
const MAX_MODEL_FILE_BYTES = 2 ** 30;

export interface OpenedModelPath {
  model: ReidModel;
  /** What was ignored, filled in or assumed (e.g. a last stride the file does not state). */
  notes: string[];
  card?: Record<string, unknown>;
}

/**
 * Open what a user names as a model: a model folder, its model.json, a PyTorch .safetensors
 * state dict or an .onnx export. `lastStride` is used where the file cannot say it.
 */
export async function openModelPath(p: string, opts: { lastStride?: 1 | 2 } = {}): Promise<OpenedModelPath> {
  const st = await fs.stat(p).catch(() => undefined);
  if (!st) throw new LabError('bad-model-file', `No model found: ${p} does not exist. Give a model folder (with model.json), a .safetensors or an .onnx file.`);
  const lower = p.toLowerCase();
  if (st.isDirectory() || path.basename(lower) === MODEL_JSON) {
    const dir = st.isDirectory() ? p : path.dirname(p);
    const { model, card } = await loadModelFromFolder(dir);
    const notes = opts.lastStride !== undefined && opts.lastStride !== model.spec.lastStride
      ? [`--last-stride ${opts.lastStride} was ignored: ${dir} is a lab model folder, whose model.json states last stride ${model.spec.lastStride}.`]
      : [];
    return { model, notes, ...(card ? { card } : {}) };
  }
  if (!lower.endsWith('.safetensors') && !lower.endsWith('.onnx')) {
    throw new LabError('bad-model-file', `${p} is not a model the lab opens: give a model folder (with model.json), a .safetensors or an .onnx file.`);
  }
  const bytes = await readBounded(p, MAX_MODEL_FILE_BYTES, 'bad-model-file', {
    missing: `${p} cannot be read.`,
    tooBig: (n) => `${p} has ${n} bytes, more than the ${MAX_MODEL_FILE_BYTES} bytes a ReID ResNet file can have; is it the right file?`,
  });
  const options = opts.lastStride !== undefined ? { lastStride: opts.lastStride } : {};
  const imported = lower.endsWith('.onnx') ? importOnnx(bytes, options) : safetensorsToModel(bytes, options);
  // A file from the PyTorch companion says where it came from; say it first.
  const notes = imported.lineage ? [`${path.basename(p)} was ${describeExternalLineage(imported.lineage)}.`, ...imported.notes] : imported.notes;
  return { model: ReidModel.fromArrays(imported.spec, imported.arrays), notes };
}
