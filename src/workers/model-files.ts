/**
 * The user's own model files, both ways. Opening: model.json + .bin shards (the lab's tfjs
 * format, read with tf.io.browserFiles), one PyTorch .safetensors file, one ONNX ResNet, or a
 * pruning plan JSON (handed to the session, which applies it to the dense model). Saving: the same two
 * formats as bytes the page downloads. tfjs's 'downloads://' handler needs `document`, which a
 * worker lacks, so the worker writes exactly what it would (model.json naming
 * group1-shardNofM.bin shards) and the page saves the files.
 */
import { LabError, isLabError } from '../engine/errors';
import { ReidModel } from '../engine/model/model';
import { artifactsToModelJson, loadModel, modelToArtifacts, shardFileNames, splitIntoShards } from '../engine/model/weights-io';
import { modelToSafetensors, safetensorsToModel } from '../engine/model/safetensors';
import { describeExternalLineage } from '../engine/model/lineage';
import { importOnnx } from '../engine/onnx/import';
import { checkPickedJson, safetensorsMetadata, statesLastStride } from './model-json-check';
import type { ExportedFiles } from './api';

export interface OpenedModel {
  kind: 'model';
  model: ReidModel;
  name: string;
  notes: string[];
  /** The file's lineage record as a phrase (PyTorch companion safetensors). */
  history?: string;
  /** The file did not state its last stride: the value the lab used (the page asks the user). */
  lastStrideAssumed?: 1 | 2;
}

/** A pruning plan JSON: applied to the current dense model by the session. */
export interface OpenedPlan {
  kind: 'plan';
  text: string;
  name: string;
}

export interface OpenOptions {
  /** For a .safetensors file that does not say its last stride: the user's answer. */
  lastStride?: 1 | 2;
}

function stem(name: string): string {
  return name.replace(/\.[^.]+$/, '') || 'model';
}

/** Run a loader; its LabError gets the file's name in front when its sentence does not name it (the user may have picked several). */
async function naming<T>(name: string, load: () => T | Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (e) {
    if (isLabError(e) && !e.message.includes(name)) throw new LabError(e.code, `${name}: ${e.message}`, e.detail);
    throw e;
  }
}

/** One file format alone in the pick (.safetensors, .onnx): that file, or a sentence. */
function alone(files: File[], picked: File[], what: string): File {
  if (files.length !== 1) throw new LabError('bad-model-file', `Open one ${what} file on its own; found ${files.length} files (${files.map((f) => f.name).slice(0, 3).join(', ')}${files.length > 3 ? ', …' : ''}).`);
  return picked[0];
}

/** What a state-dict import (safetensors, ONNX) made, as a model; a shape mismatch names the file. */
function fromImport(file: File, imported: { spec: ReidModel['spec']; arrays: Parameters<typeof ReidModel.fromArrays>[1]; notes: string[] }): ReidModel {
  try {
    return ReidModel.fromArrays(imported.spec, imported.arrays);
  } catch (e) {
    throw isLabError(e) ? e : new LabError('bad-weights', `${file.name} does not hold a complete ResNet: ${(e as Error).message}.`);
  }
}

export async function openModelFiles(files: File[], opts: OpenOptions = {}): Promise<OpenedModel | OpenedPlan> {
  if (!Array.isArray(files) || files.length === 0 || !files.every((f) => typeof File !== 'undefined' && f instanceof File)) {
    throw new LabError('bad-model-file', 'No files arrived: pick a model.json with its .bin weight files, a .safetensors or .onnx file, or a pruning plan .json.');
  }
  const st = files.filter((f) => /\.safetensors$/i.test(f.name));
  if (st.length > 0) {
    const file = alone(files, st, '.safetensors');
    const bytes = new Uint8Array(await file.arrayBuffer());
    // The weights cannot tell the last stride: a file that does not say it gets the ReID default, and the page asks.
    const silent = !statesLastStride(safetensorsMetadata(bytes));
    const lastStride = opts.lastStride ?? (silent ? 1 : undefined);
    const imported = await naming(file.name, () => safetensorsToModel(bytes, lastStride ? { lastStride } : {}));
    return { kind: 'model', model: await naming(file.name, () => fromImport(file, imported)), name: stem(file.name), notes: imported.notes, ...(silent && !opts.lastStride ? { lastStrideAssumed: 1 as const } : {}), ...(imported.lineage ? { history: describeExternalLineage(imported.lineage) } : {}) };
  }
  const onnx = files.filter((f) => /\.onnx$/i.test(f.name));
  if (onnx.length > 0) {
    const file = alone(files, onnx, '.onnx');
    const bytes = new Uint8Array(await file.arrayBuffer());
    const imported = await naming(file.name, () => importOnnx(bytes));
    return { kind: 'model', model: await naming(file.name, () => fromImport(file, imported)), name: stem(file.name), notes: imported.notes };
  }
  const json = files.filter((f) => /\.json$/i.test(f.name));
  if (json.length !== 1) {
    const names = files.map((f) => f.name).slice(0, 3).join(', ');
    throw new LabError(
      'bad-model-file',
      json.length > 1
        ? `Pick one .json file at a time (a model.json with its .bin files, or a pruning plan); found ${json.length}: ${json.map((f) => f.name).slice(0, 3).join(', ')}.`
        : `The lab opens a model.json with its .bin weight files, a .safetensors or .onnx file, or a pruning plan .json; got ${names}${files.length > 3 ? ', …' : ''}.`,
    );
  }
  // Valid JSON first, so a corrupt model.json gets a sentence about the file, not a parser trace.
  const text = await json[0].text();
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new LabError('bad-model-file', `${json[0].name} is not valid JSON, so it is not a model.json (the file may be truncated or corrupt).`);
  }
  const picked = checkPickedJson(value, json[0].name, files.filter((f) => f !== json[0]).map((f) => f.name));
  if (picked.kind === 'plan') {
    if (files.length !== 1) throw new LabError('bad-model-file', `${json[0].name} is a pruning plan: open it on its own (it applies to the model already loaded).`);
    return { kind: 'plan', text, name: json[0].name };
  }
  const loaded = await naming(json[0].name, () => loadModel(files));
  const card = loaded.card as { name?: unknown } | undefined;
  const name = typeof card?.name === 'string' ? card.name : stem(json[0].name) === 'model' ? 'your model' : stem(json[0].name);
  return { kind: 'model', model: loaded.model, name, notes: [] };
}

export async function exportModel(model: ReidModel, format: 'tfjs' | 'safetensors', name: string, card: Record<string, unknown>): Promise<ExportedFiles> {
  const base = /^[A-Za-z0-9._-]{1,80}$/.test(name) ? name : 'pruned-model';
  const arrays = await model.toArrays();
  if (format === 'safetensors') {
    const bytes = modelToSafetensors(model.spec, arrays);
    const buf = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? (bytes.buffer as ArrayBuffer) : (bytes.slice().buffer as ArrayBuffer);
    return { files: [{ name: `${base}.safetensors`, bytes: buf }] };
  }
  if (format !== 'tfjs') throw new LabError('bad-argument', `Models export as "tfjs" or "safetensors"; got "${String(format)}".`);
  const artifacts = modelToArtifacts(model.spec, arrays, { card });
  const shards = splitIntoShards(artifacts.weightData as ArrayBuffer);
  // 'downloads://name' names the shards name.weights.bin; the lab's zoo uses the converter's names.
  const paths = shards.length === 1 ? [`${base}.weights.bin`] : shardFileNames(shards.length).map((s) => `${base}.${s}`);
  const modelJson = artifactsToModelJson(artifacts, paths);
  const jsonBytes = new TextEncoder().encode(JSON.stringify(modelJson));
  return {
    files: [{ name: `${base}.json`, bytes: jsonBytes.buffer as ArrayBuffer }, ...shards.map((b, i) => ({ name: paths[i], bytes: b }))],
  };
}
