/**
 * The page's side of the worker: start it, wrap it with comlink, run jobs with progress and
 * cancellation. Imports no tfjs (only types from api.ts), so the page's bundle stays small.
 */
import * as Comlink from 'comlink';
import type { JobProgress, LabWorkerApi, ProgressCallback } from './api';
import { installErrorTransfer } from './error-transfer';

export type LabRemote = Comlink.Remote<LabWorkerApi>;

export interface LabClient {
  api: LabRemote;
  /** Stop the worker and free everything it held (tensors, GPU device, wasm threads). */
  terminate(): void;
}

/** `onCrash` hears failures outside any call: the worker script failing to load or throwing at top level. */
export function createLabClient(onCrash?: (message: string) => void): LabClient {
  installErrorTransfer();
  const worker = new Worker(new URL('./lab.worker.ts', import.meta.url), { type: 'module', name: 'lab' });
  worker.addEventListener('error', (ev) => {
    onCrash?.(`The lab's worker stopped: ${ev.message || 'its script could not be loaded'}.`);
  });
  const api = Comlink.wrap<LabWorkerApi>(worker);
  return {
    api,
    terminate() {
      api[Comlink.releaseProxy]();
      worker.terminate();
    },
  };
}

export interface RunningJob<T> {
  id: string;
  result: Promise<T>;
  /** Ask the worker to stop; `result` then rejects with a LabError of code "cancelled". */
  cancel(): Promise<boolean>;
}

/** Mark a callback for passing to the worker (progress listeners). */
export function proxyCallback<F extends (...args: never[]) => unknown>(f: F): F & Comlink.ProxyMarked {
  return Comlink.proxy(f);
}

let jobCounter = 0;

/**
 * Start a worker job. `call` receives the job id and a proxied progress callback and makes the
 * remote call, e.g. `(id, p) => api.measureLatency({}, id, p)`.
 */
export function startJob<T>(
  api: LabRemote,
  kind: string,
  call: (jobId: string, onProgress: ProgressCallback) => Promise<T>,
  onProgress: (p: JobProgress) => void = () => {},
): RunningJob<T> {
  const id = `${kind}-${++jobCounter}`;
  const proxied = proxyCallback(onProgress);
  const result = call(id, proxied);
  return {
    id,
    result,
    cancel: () => api.cancel(id),
  };
}
