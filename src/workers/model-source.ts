/**
 * Where the worker's model comes from: a folder of the shipped zoo (public/models/<name>/,
 * tfjs weights-manifest format, see weights-io.ts), or a seeded random model when the zoo has
 * none (the lab still works, accuracy is then meaningless and the UI says so).
 */
import { LabError } from '../engine/errors';
import { ReidModel } from '../engine/model/model';
import { buildSpec, type BuildOptions } from '../engine/model/spec';
import { loadModel } from '../engine/model/weights-io';
import type { Job } from './jobs';

/** The zoo folder loaded when the URL names no model: zoo v2's ResNet-50 (docs/ZOO.md). */
export const DEFAULT_MODEL_NAME = 'resnet50-w0.5-v2';
/** A model small enough for software WebGPU/WebGL (tests, demos on weak machines). */
export const TINY_MODEL_NAME = 'tiny';

/** Random stand-ins, by name: the default's architecture, and a tiny one. */
const RANDOM_SPECS: Record<string, BuildOptions> = {
  [DEFAULT_MODEL_NAME]: { depth: 50, widthMultiplier: 0.5 },
  [TINY_MODEL_NAME]: { depth: 18, widthMultiplier: 0.125, inputHeight: 64, inputWidth: 32 },
};

export interface LoadedSource {
  model: ReidModel;
  name: string;
  source: 'zoo' | 'random';
  card?: Record<string, unknown>;
}

/** The zoo lives next to the page, not next to the worker script (which sits in assets/). */
export function zooUrl(name: string): string {
  return new URL(`${import.meta.env.BASE_URL}models/${encodeURIComponent(name)}/model.json`, self.location.origin).href;
}

/**
 * True if the zoo has the model. A static host may answer any path with index.html (vite
 * preview does), so "exists" means a JSON body, not just status 200.
 */
export async function zooHas(url: string): Promise<boolean> {
  try {
    const res = await fetch(url, { method: 'GET', cache: 'no-cache' });
    if (!res.ok) return false;
    const type = res.headers.get('content-type') ?? '';
    if (type.includes('json')) return true;
    const text = await res.text();
    return text.trimStart().startsWith('{');
  } catch {
    return false;
  }
}

export async function loadNamedModel(name: string, seed: number, job: Job): Promise<LoadedSource> {
  if (!/^[A-Za-z0-9._-]{1,80}$/.test(name)) {
    throw new LabError('bad-argument', `A model name is letters, digits, ".", "_" or "-"; got "${name}".`);
  }
  const url = zooUrl(name);
  job.progress(0, `Looking for ${name} in the model zoo`);
  if (name !== TINY_MODEL_NAME && (await zooHas(url))) {
    job.throwIfCancelled();
    job.progress(0.2, `Loading ${name}`);
    const loaded = await loadModel(url);
    if (job.signal.aborted) loaded.model.dispose();
    job.throwIfCancelled();
    return { model: loaded.model, name, source: 'zoo', ...(loaded.card ? { card: loaded.card } : {}) };
  }
  const opts = RANDOM_SPECS[name];
  if (!opts) {
    throw new LabError('bad-model-file', `The model zoo has no model named "${name}" (expected ${url}).`);
  }
  job.progress(0.2, `Building a random ${name} (no trained weights in the zoo)`);
  const model = ReidModel.init(buildSpec(opts), seed);
  if (job.signal.aborted) model.dispose();
  job.throwIfCancelled();
  return { model, name, source: 'random' };
}
