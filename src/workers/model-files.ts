/**
 * The user's own model files, both ways. Opening: model.json + .bin shards (the lab's tfjs
 * format, read with tf.io.browserFiles) or one PyTorch .safetensors file. Saving: the same two
 * formats as bytes the page downloads. tfjs's 'downloads://' handler needs `document`, which a
 * worker lacks, so the worker writes exactly what it would (model.json naming
 * group1-shardNofM.bin shards) and the page saves the files.
 */
import { LabError, isLabError } from '../engine/errors';
import { ReidModel } from '../engine/model/model';
import { artifactsToModelJson, loadModel, modelToArtifacts, shardFileNames, splitIntoShards } from '../engine/model/weights-io';
import { modelToSafetensors, safetensorsToModel } from '../engine/model/safetensors';
import { describeExternalLineage } from '../engine/model/lineage';
import type { ExportedFiles } from './api';

export interface OpenedModel {
  model: ReidModel;
  name: string;
  notes: string[];
  /** The file's lineage record as a phrase (PyTorch companion safetensors). */
  history?: string;
}

function stem(name: string): string {
  return name.replace(/\.[^.]+$/, '') || 'model';
}

export async function openModelFiles(files: File[]): Promise<OpenedModel> {
  if (!Array.isArray(files) || files.length === 0) {
    throw new LabError('bad-model-file', 'No files arrived: pick a model.json with its .bin weight files, or one .safetensors file.');
  }
  const st = files.filter((f) => /\.safetensors$/i.test(f.name));
  if (st.length > 0) {
    if (files.length !== 1) throw new LabError('bad-model-file', `Open one .safetensors file on its own; found ${files.length} files.`);
    const bytes = new Uint8Array(await st[0].arrayBuffer());
    const imported = safetensorsToModel(bytes);
    try {
      const model = ReidModel.fromArrays(imported.spec, imported.arrays);
      const opened: OpenedModel = { model, name: stem(st[0].name), notes: imported.notes };
      if (imported.lineage) opened.history = describeExternalLineage(imported.lineage);
      return opened;
    } catch (e) {
      throw isLabError(e) ? e : new LabError('bad-weights', `${st[0].name} does not hold a complete ResNet: ${(e as Error).message}.`);
    }
  }
  const json = files.filter((f) => /\.json$/i.test(f.name));
  if (json.length === 0) {
    const names = files.map((f) => f.name).slice(0, 3).join(', ');
    throw new LabError('bad-model-file', `The lab opens a model.json with its .bin weight files, or a .safetensors file; got ${names}${files.length > 3 ? ', …' : ''}.`);
  }
  // Valid JSON first, so a corrupt model.json gets a sentence about the file, not a parser trace.
  try {
    JSON.parse(await json[0].text());
  } catch {
    throw new LabError('bad-model-file', `${json[0].name} is not valid JSON, so it is not a model.json (the file may be truncated or corrupt).`);
  }
  const loaded = await loadModel(files);
  const card = loaded.card as { name?: unknown } | undefined;
  const name = typeof card?.name === 'string' ? card.name : stem(json[0].name) === 'model' ? 'your model' : stem(json[0].name);
  return { model: loaded.model, name, notes: [] };
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
