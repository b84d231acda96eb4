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
import { MAX_WASM_THREADS, isBackendChoice, type BackendChoice, type BackendStatus, type LabWorkerApi, type ModelSummary } from './api';
import { startBackend } from './backend';
import { installErrorTransfer } from './error-transfer';
import { JobRegistry } from './jobs';
import { ModelLock } from './model-lock';
import { measureLatency } from './latency';
import { benchmarkThroughput } from './throughput';
import { runReproduceJob } from './reproduce';
import { clearReproduceCache } from './reproduce-cache';
import { DEFAULT_MODEL_NAME, loadNamedModel } from './model-source';
import { LabSession } from './session';
import { ModelPersistence } from './model-store';
import { fineTuneSubset, generateSynth, loadDatasetFiles, summarizeDataset, thumbnails } from './dataset';
import { exportModel, openModelFiles } from './model-files';
import { RankedListsCache, rankedListsPage } from './ranked-lists';
import type { DatasetSummary } from './api';
import { planSensitivity, runSensitivity } from './sensitivity';
import { ptlCostPreview } from './ptl';
import { cardBaseline } from './card-baseline';

installErrorTransfer();

const jobs = new JobRegistry();
// Jobs that read or replace the model never overlap (model-lock.ts).
const modelLock = new ModelLock();
let backendChoice: BackendChoice | null = null;
let backendThreads: number | undefined;
let backendReady: Promise<BackendStatus> | null = null;
let status: BackendStatus | null = null;
const session = new LabSession(() => status?.name ?? 'cpu');
// The current model survives a reload and a worker crash (IndexedDB, model-store.ts).
const persistence = new ModelPersistence(session);

/** An operation that may make a new model state (even when it fails or is cancelled): snapshot it for the store. */
async function persisting<T>(body: () => Promise<T>): Promise<T> {
  try {
    return await body();
  } finally {
    await persistence.sync();
  }
}
let datasetSummary: DatasetSummary | null = null;
// Ranked lists per dataset and model state, so paging never re-extracts embeddings.
const rankedCache = new RankedListsCache();

// WebGPU device loss: the reason once the device is gone, and who wants to hear it.
interface GpuDeviceLike {
  lost: Promise<{ reason?: string; message?: string }>;
  destroy(): void;
}
let deviceLost: string | null = null;
const deviceLostListeners: ((message: string) => void)[] = [];

function webgpuDevice(): GpuDeviceLike | null {
  if (status?.name !== 'webgpu') return null;
  return (tf.backend() as unknown as { device?: GpuDeviceLike }).device ?? null;
}

function watchDevice(): void {
  webgpuDevice()?.lost.then((info) => {
    const why = [info.reason, info.message].filter(Boolean).join(': ') || 'no reason given';
    deviceLost = `The GPU stopped responding (WebGPU device lost: ${why}). The lab switched to the wasm backend and loaded the model again, with the pruned or fine-tuned model where it could be saved; the runs are kept.`;
    for (const l of deviceLostListeners.splice(0)) l(deviceLost);
  });
}

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
  return session.requireModel();
}

/** Images at the model's input size (synthetic data is rendered at it; files are resized to it). */
function inputSize(): { height: number; width: number } {
  const st = session.modelState;
  return st ? { ...st.summary.input } : { height: 128, width: 64 };
}

function currentSummary(): ModelSummary | null {
  return session.modelState?.summary ?? null;
}

const api: LabWorkerApi = {
  init(choice, opts = {}) {
    if (!isBackendChoice(choice)) {
      return Promise.reject(new LabError('bad-argument', `Unknown backend "${String(choice)}"; expected auto, webgpu, wasm, webgl or cpu.`));
    }
    const threads = opts.threads;
    if (threads !== undefined && !(Number.isInteger(threads) && threads >= 1 && threads <= MAX_WASM_THREADS)) {
      return Promise.reject(new LabError('bad-argument', `wasm threads must be a whole number from 1 to ${MAX_WASM_THREADS}; got ${String(threads)}.`));
    }
    if (backendReady) {
      if (choice !== backendChoice || threads !== backendThreads) {
        return Promise.reject(new LabError('bad-argument', `This worker already runs the "${backendChoice}" choice${backendThreads ? ` with ${backendThreads} wasm thread${backendThreads === 1 ? '' : 's'}` : ''}; another backend or thread count needs a new worker.`));
      }
      return backendReady;
    }
    backendChoice = choice;
    backendThreads = threads;
    backendReady = guarded(async () => {
      status = await startBackend(choice, threads);
      watchDevice();
      return status;
    });
    return backendReady;
  },

  getStatus() {
    return status;
  },

  loadDefaultModel(opts, jobId, onProgress) {
    return guarded(() =>
      modelLock.run('Loading the model', () => jobs.run(jobId, 'Loading the model', onProgress, async (job) => {
        await requireBackend();
        const name = opts.model ?? DEFAULT_MODEL_NAME;
        const loaded = await loadNamedModel(name, opts.seed ?? 1, job);
        // Replace only once the new model is complete: a failed load keeps the old one.
        session.clearDenseCost();
        const state = session.setDense({ model: loaded.model, name: loaded.name, source: loaded.source });
        job.progress(1, `Loaded ${loaded.name}`);
        return state.summary;
      })),
    );
  },

  modelSummary() {
    return currentSummary();
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

  setPaused(jobId, paused) {
    return jobs.setPaused(jobId, Boolean(paused));
  },

  modelState() {
    return session.modelState;
  },

  measureStateLatency(jobId, onProgress) {
    return guarded(() => modelLock.run('Measuring latency', () => jobs.run(jobId, 'Measuring latency', onProgress, (job) => session.measureLatency(job))));
  },

  resetModel() {
    modelLock.check('reset');
    const state = session.reset();
    void persistence.sync();
    return state;
  },

  openModelFiles(files, jobId, onProgress, opts) {
    return persisting(() => guarded(() =>
      modelLock.run('Opening a model', () => jobs.run(jobId, 'Opening the model', onProgress, async (job) => {
        await requireBackend();
        job.progress(0.1, `Reading ${Array.isArray(files) ? files.length : 0} file(s)`);
        const opened = await openModelFiles(files, opts ?? {});
        if (opened.kind === 'plan') return { kind: 'plan' as const, prune: await session.applyPlanJson(opened.text, opened.name, job) };
        if (job.signal.aborted) opened.model.dispose();
        job.throwIfCancelled();
        session.clearDenseCost();
        const state = session.setDense({ model: opened.model, name: opened.name, source: 'user', ...(opened.history ? { history: opened.history } : {}) });
        job.progress(1, `Opened ${opened.name}`);
        return { kind: 'model' as const, state, notes: opened.notes, ...(opened.lastStrideAssumed ? { lastStrideAssumed: opened.lastStrideAssumed } : {}) };
      })),
    ));
  },

  exportModel(format, name) {
    return guarded(async () => {
      const st = session.modelState;
      const card = { name, lineage: st?.lineage ?? null, exportedBy: 'Prunability Lab' };
      const out = await exportModel(requireModel(), format, name, card);
      return Comlink.transfer(out, out.files.map((f) => f.bytes));
    });
  },

  generateSynth(req, jobId, onProgress) {
    return guarded(() =>
      jobs.run(jobId, 'Generating SynthReID', onProgress, async (job) => {
        const d = await generateSynth(req, inputSize(), job);
        session.dataset = d;
        session.fineTuneSplit = null;
        datasetSummary = summarizeDataset(d, 'synth', [], { ...req });
        return datasetSummary;
      }),
    );
  },

  loadDatasetFiles(files, opts, jobId, onProgress) {
    return guarded(() =>
      jobs.run(jobId, 'Loading the dataset', onProgress, async (job) => {
        const { dataset, report } = await loadDatasetFiles(files, opts, inputSize(), job);
        session.dataset = dataset;
        session.fineTuneSplit = null;
        datasetSummary = summarizeDataset(dataset, 'files', report);
        return datasetSummary;
      }),
    );
  },

  datasetSummary() {
    return datasetSummary;
  },

  async thumbnails(identities, perIdentity) {
    const t = thumbnails(session.requireDataset(), identities, perIdentity);
    return Comlink.transfer(t, t.map((x) => x.rgba));
  },

  setFineTuneSplit(req) {
    const r = fineTuneSubset(session.requireDataset(), req);
    session.fineTuneSplit = r;
    return r.summary;
  },

  evaluate(jobId, onProgress, kind) {
    return guarded(() => modelLock.run('Evaluating', () => jobs.run(jobId, kind === 'quick' ? 'Quick evaluation' : 'Evaluating', onProgress, (job) => session.evaluate(job, kind ?? 'full'))));
  },

  cardBaseline() {
    return guarded(() => cardBaseline(session, datasetSummary));
  },

  criteria() {
    return session.criteria();
  },

  prune(req, jobId, onProgress) {
    return persisting(() => guarded(() => modelLock.run('Pruning', () => jobs.run(jobId, 'Pruning', onProgress, (job) => session.prune(req, job)))));
  },

  fineTune(req, jobId, onProgress) {
    return persisting(() => guarded(() => modelLock.run('Fine-tuning', () => jobs.run(jobId, 'Fine-tuning', onProgress, (job) => session.fineTune(req, job)))));
  },

  recalibrateBn(req, jobId, onProgress) {
    return persisting(() => guarded(() => modelLock.run('Recalibrating BatchNorm', () => jobs.run(jobId, 'Recalibrating BatchNorm', onProgress, (job) => session.recalibrateBn(req ?? { seed: 1 }, job)))));
  },

  ptlCostPreview(opts) {
    return ptlCostPreview(session.requireModel().spec, opts);
  },

  sensitivityPlan(req) {
    return planSensitivity(session.requireDense().model, session.requireDataset(), req);
  },

  sensitivity(req, jobId, onProgress) {
    return guarded(() =>
      modelLock.run('A sensitivity scan', () =>
        jobs.run(jobId, 'Sensitivity scan', onProgress, (job) =>
          runSensitivity(session.requireDense(), session.requireDataset(), session.fineTuneSplit?.split, req, job, { embeddings: session.embeddings, stateKey: session.denseEmbeddingKey }),
        ),
      ),
    );
  },

  rankedLists(req, jobId, onProgress) {
    return guarded(() =>
      modelLock.run('Ranking the gallery', () => jobs.run(jobId, 'Ranking', onProgress, async (job) => {
        const dataset = session.requireDataset();
        const current = session.requireModel();
        const dense = session.requireDense().model;
        const features = session.rankedListFeatures();
        const models = { dense, current, stateId: session.modelState!.stateId, dataset, features };
        const page = await rankedListsPage(rankedCache, models, datasetSummary?.name ?? dataset.name, req, job);
        return Comlink.transfer(page, page.thumbs.map((t) => t.rgba));
      })),
    );
  },

  numTensors() {
    return tf.memory().numTensors;
  },

  onDeviceLost(listener) {
    if (deviceLost) listener(deviceLost);
    else deviceLostListeners.push(listener);
  },

  simulateDeviceLoss() {
    const device = webgpuDevice();
    if (!device) return false;
    device.destroy();
    return true;
  },

  holdLifeline(name) {
    const locks = (self.navigator as Navigator & { locks?: LockManager }).locks;
    if (!locks || typeof name !== 'string') return Promise.resolve(false);
    // Granted now, released only when this worker dies: the page waits on the same lock.
    return new Promise<boolean>((held) => {
      void locks.request(name, () => {
        held(true);
        return new Promise<never>(() => {});
      });
    });
  },

  restoreSavedModel() {
    return guarded(async () => {
      await requireBackend();
      return persistence.restore();
    });
  },

  onModelStore(listener) {
    persistence.onEvent(listener);
  },

  flushModelStore() {
    return persistence.flush();
  },

  simulateCrash(how) {
    // After this call has answered, so the page sees the worker die, not a failed call.
    setTimeout(() => {
      if (how === 'throw') throw new Error('Simulated crash of the lab worker (test only)');
      self.close();
    }, 0);
    return true;
  },

  simulateStorageFailure(kind) {
    persistence.simulateFailure(kind === 'quota' ? 'quota' : null);
    return true;
  },

  benchmarkThroughput(req, jobId, onProgress) {
    return guarded(() =>
      jobs.run(jobId, 'Benchmarking throughput', onProgress, async (job) => {
        const st = await requireBackend();
        return benchmarkThroughput(req, st.name, job);
      }),
    );
  },

  reproduce(req, jobId, onProgress, onTick) {
    return guarded(() =>
      jobs
        .run(jobId, 'Reproducing the paper', onProgress, async (job) => {
          const st = await requireBackend();
          return runReproduceJob(req ?? {}, st.name, job, (t) => void Promise.resolve(onTick?.(t)).catch(() => {}));
        })
        // The tick listener is a comlink proxy holding a MessagePort; free it.
        .finally(() => (onTick as Partial<Comlink.ProxyMethods> | undefined)?.[Comlink.releaseProxy]?.()),
    );
  },

  clearReproduceCache() {
    return guarded(() => clearReproduceCache());
  },
};

Comlink.expose(api);
