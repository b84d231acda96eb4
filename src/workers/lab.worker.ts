/**
 * The lab's one worker: owns the tfjs backend, the loaded model and every tensor, and exposes
 * the engine to the page with comlink. Results are plain data; long operations are jobs
 * (jobs.ts) with throttled progress and cancellation.
 *
 * One backend per worker: switching backends means a fresh worker (the page does that), so no
 * tensor ever has to move between backends.
 */
import * as Comlink from 'comlink';
import * as tf from '@tensorflow/tfjs';
import { LabError, isLabError } from '../engine/errors';
import type { ReidModel } from '../engine/model/model';
import { isBackendChoice, type BackendChoice, type BackendStatus, type LabWorkerApi, type ModelSummary } from './api';
import { startBackend } from './backend';
import { installErrorTransfer } from './error-transfer';
import { JobRegistry } from './jobs';
import { measureLatency } from './latency';
import { DEFAULT_MODEL_NAME, loadNamedModel } from './model-source';
import { summarizeSpec } from './summary';

installErrorTransfer();

const jobs = new JobRegistry();
let backendChoice: BackendChoice | null = null;
let backendReady: Promise<BackendStatus> | null = null;
let status: BackendStatus | null = null;
let current: { model: ReidModel; summary: ModelSummary } | null = null;

/** Engine and browser failures that are not LabErrors yet, as sentences a user understands. */
function toLabError(e: unknown): unknown {
  if (isLabError(e) || !(e instanceof Error)) return e;
  const msg = e.message;
  if (/out of memory|failed to allocate|allocation failed|OOM/i.test(msg)) {
    return new LabError('out-of-memory', `The ${status?.name ?? 'compute'} backend ran out of memory. Try a smaller batch or a narrower model. (${msg})`);
  }
  if (/device (was |is )?lost|context (was )?lost/i.test(msg)) {
    return new LabError('device-lost', `The GPU stopped responding (device lost). Reload the page to start again. (${msg})`);
  }
  return e;
}

async function guarded<T>(body: () => Promise<T>): Promise<T> {
  try {
    return await body();
  } catch (e) {
    throw toLabError(e);
  }
}

async function requireBackend(): Promise<BackendStatus> {
  if (!backendReady) throw new LabError('bad-argument', 'The worker has no backend yet; call init() first.');
  return backendReady;
}

function requireModel(): ReidModel {
  if (!current) throw new LabError('bad-argument', 'No model is loaded yet.');
  return current.model;
}

const api: LabWorkerApi = {
  init(choice) {
    if (!isBackendChoice(choice)) {
      return Promise.reject(new LabError('bad-argument', `Unknown backend "${String(choice)}"; expected auto, webgpu, wasm, webgl or cpu.`));
    }
    if (backendReady) {
      if (choice !== backendChoice) {
        return Promise.reject(new LabError('bad-argument', `This worker already runs the "${backendChoice}" choice; a new backend needs a new worker.`));
      }
      return backendReady;
    }
    backendChoice = choice;
    backendReady = guarded(async () => {
      status = await startBackend(choice);
      return status;
    });
    return backendReady;
  },

  getStatus() {
    return status;
  },

  loadDefaultModel(opts, jobId, onProgress) {
    return guarded(() =>
      jobs.run(jobId, 'Loading the model', onProgress, async (job) => {
        await requireBackend();
        const name = opts.model ?? DEFAULT_MODEL_NAME;
        const loaded = await loadNamedModel(name, opts.seed ?? 1, job);
        // Replace only once the new model is complete: a failed load keeps the old one.
        current?.model.dispose();
        current = { model: loaded.model, summary: summarizeSpec(loaded.model.spec, loaded.name, loaded.source) };
        job.progress(1, `Loaded ${loaded.name}`);
        return current.summary;
      }),
    );
  },

  modelSummary() {
    return current?.summary ?? null;
  },

  measureLatency(opts, jobId, onProgress) {
    return guarded(() =>
      jobs.run(jobId, 'Measuring latency', onProgress, async (job) => {
        const st = await requireBackend();
        return measureLatency(requireModel(), st.name, opts, job);
      }),
    );
  },

  cancel(jobId) {
    return jobs.cancel(jobId);
  },

  numTensors() {
    return tf.memory().numTensors;
  },
};

Comlink.expose(api);
