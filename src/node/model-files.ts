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
      let text: string;
      try {
        text = await fs.readFile(jsonPath, 'utf8');
      } catch {
        throw new LabError('bad-model-file', `No model found: ${jsonPath} does not exist or cannot be read.`);
      }
      let json: tf.io.ModelJSON;
      try {
        json = JSON.parse(text) as tf.io.ModelJSON;
      } catch (e) {
        throw new LabError('bad-model-file', `${jsonPath} is not valid JSON (${(e as Error).message}).`);
      }
      const manifest = json.weightsManifest;
      if (!Array.isArray(manifest)) throw new LabError('bad-model-file', `${jsonPath} has no weightsManifest.`);
      const buffers: ArrayBuffer[] = [];
      for (const p of manifest.flatMap((g) => g.paths)) {
        try {
          const b = await fs.readFile(path.join(dir, p));
          buffers.push(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer);
        } catch {
          throw new LabError('bad-weights', `Weight shard ${p} listed in ${MODEL_JSON} is missing from ${dir}.`, { shard: p });
        }
      }
      return {
        format: json.format,
        generatedBy: json.generatedBy,
        convertedBy: json.convertedBy,
        modelTopology: json.modelTopology,
        userDefinedMetadata: json.userDefinedMetadata,
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
