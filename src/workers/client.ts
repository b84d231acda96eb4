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
  /**
   * Resolves with a sentence when the worker dies on its own (an uncaught error, or it stopped:
   * crash, out of memory, self.close()); never when terminate() stops it. Calls in flight then
   * never answer, so callers race their results against it.
   */
  died: Promise<string>;
  /** Resolves once terminate() stopped the worker: calls in flight then never answer either. */
  closed: Promise<void>;
  /** Stop the worker and free everything it held (tensors, GPU device, wasm threads). */
  terminate(): void;
}

/**
 * `onCrash` hears, once, that the worker died on its own: the script failing to load, an error
 * thrown at top level, or the worker gone (a Web Lock it holds for its life is released).
 */
export function createLabClient(onCrash?: (message: string) => void): LabClient {
  installErrorTransfer();
  const worker = new Worker(new URL('./lab.worker.ts', import.meta.url), { type: 'module', name: 'lab' });
  let terminated = false;
  let announce: (message: string) => void = () => {};
  const died = new Promise<string>((resolve) => {
    announce = (message) => {
      if (terminated) return;
      terminated = true;
      resolve(message);
      onCrash?.(message);
    };
  });
  worker.addEventListener('error', (ev) => {
    announce(`The lab's worker stopped: ${ev.message || 'its script could not be loaded'}.`);
  });
  const api = Comlink.wrap<LabWorkerApi>(worker);
  // The worker holds a lock named for it until it dies; our request for it is granted then.
  const locks = (navigator as Navigator & { locks?: LockManager }).locks;
  const stopWatching = new AbortController();
  let markClosed: () => void = () => {};
  const closed = new Promise<void>((resolve) => (markClosed = resolve));
  if (locks) {
    const name = `prunability-lab-worker-${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
    api.holdLifeline(name).then(
      (held) => {
        if (!held || terminated) return;
        locks.request(name, { signal: stopWatching.signal }, () => announce('The lab\u2019s worker stopped unexpectedly (it crashed or ran out of memory).')).catch(() => {});
      },
      () => {},
    );
  }
  return {
    api,
    died,
    closed,
    terminate() {
      terminated = true;
      markClosed();
      stopWatching.abort();
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
