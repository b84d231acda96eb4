/**
 * Open whatever the CLI's --model names: a model folder (model.json + shards), a PyTorch
 * .safetensors state dict (the lab's own exports carry their spec; others are inferred from the
 * shapes), or an ONNX ResNet. What a file does not state (last stride, input size) comes from
 * the caller's options, and every default taken is returned as a note to print.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { LabError } from '../engine/errors';
import { ReidModel } from '../engine/model/model';
import { safetensorsToModel } from '../engine/model/safetensors';
import type { StateDictImportOptions } from '../engine/model/state-dict';
import { describeExternalLineage, type ExternalLineage } from '../engine/model/lineage';
import { importOnnx } from '../engine/onnx/import';
import { loadModelFromFolder } from './model-files';

export interface OpenedModel {
  model: ReidModel;
  /** Sentences about what the file did not say and the lab assumed. */
  notes: string[];
  /** Where the file says the model came from (PyTorch companion), if it says. */
  lineage?: ExternalLineage;
  format: 'folder' | 'safetensors' | 'onnx';
}

export async function openModel(p: string, opts: StateDictImportOptions = {}): Promise<OpenedModel> {
  let stat;
  try {
    stat = await fs.stat(p);
  } catch {
    throw new LabError('bad-model-file', `No model at ${p}: give a model folder (model.json + shards), a .safetensors or an .onnx file.`);
  }
  if (stat.isDirectory()) return { model: (await loadModelFromFolder(p)).model, notes: [], format: 'folder' };
  const ext = path.extname(p).toLowerCase();
  if (ext !== '.safetensors' && ext !== '.onnx') {
    throw new LabError('bad-model-file', `${p} is neither a model folder nor a .safetensors or .onnx file.`);
  }
  const bytes = new Uint8Array(await fs.readFile(p));
  const imported = ext === '.onnx' ? importOnnx(bytes, opts) : safetensorsToModel(bytes, opts);
  const lineage = ext === '.safetensors' ? imported.lineage : undefined;
  const notes = [...imported.notes];
  if (lineage) notes.unshift(`${path.basename(p)} was ${describeExternalLineage(lineage)}.`);
  return { model: ReidModel.fromArrays(imported.spec, imported.arrays), notes, lineage, format: ext === '.onnx' ? 'onnx' : 'safetensors' };
}
