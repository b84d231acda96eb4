/**
 * Backend set-up shared by Node (CLI, tests, benchmarks) and the web worker.
 *
 * `initBackend('wasm')` registers tfjs's wasm backend, optionally with a thread pool, activates
 * it and installs the lab's Conv2D gradient (wasm has no Conv2DBackpropFilter; the override is
 * dispatched per backend so WebGPU keeps the stock gradient). Bundler-specific details (the
 * `?url` imports of the wasm binaries) stay in the worker, which passes them as `wasmPaths`.
 */
import * as tf from '@tensorflow/tfjs';
import { LabError } from '../errors';
import { installConvGradient } from './conv-grad';

export type BackendName = 'wasm' | 'webgpu' | 'webgl' | 'cpu';
export type BackendChoice = BackendName | 'auto';

export interface BackendOptions {
  /** URLs of tfjs-backend-wasm's binaries (prefix or per-file map), for bundled browsers. */
  wasmPaths?: string | Record<string, string>;
  /**
   * wasm threads wanted (browser with cross-origin isolation only). tfjs caps its pool at
   * hardwareConcurrency / 2, so the cap is lifted first (design.md: 2 threads gave 1.9x).
   */
  threads?: number;
}

export interface BackendInfo {
  name: BackendName;
  /** wasm thread count, when known. */
  threads?: number;
}

interface NavigatorLike {
  hardwareConcurrency?: number;
  gpu?: { requestAdapter(): Promise<unknown> };
}

function nav(): NavigatorLike | undefined {
  return (globalThis as { navigator?: NavigatorLike }).navigator;
}

async function hasWebGpuAdapter(): Promise<boolean> {
  const gpu = nav()?.gpu;
  if (!gpu) return false;
  try {
    return (await gpu.requestAdapter()) != null;
  } catch {
    return false;
  }
}

function liftThreadCap(threads: number): void {
  const n = nav();
  const isolated = (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === true;
  if (!n || !isolated) return;
  const want = threads * 2;
  if ((n.hardwareConcurrency ?? 0) >= want) return;
  const proto = Object.getPrototypeOf(n) as object;
  try {
    Object.defineProperty(proto, 'hardwareConcurrency', { configurable: true, get: () => want });
  } catch {
    // A locked-down navigator: keep tfjs's default pool size.
  }
}

async function setupWasm(opts: BackendOptions): Promise<boolean> {
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  if (opts.wasmPaths) wasm.setWasmPaths(opts.wasmPaths as string);
  if (opts.threads && opts.threads > 1) {
    liftThreadCap(opts.threads);
    wasm.setThreadsCount(opts.threads);
  } else if (opts.threads === 1) {
    wasm.setThreadsCount(1);
  }
  return tf.setBackend('wasm');
}

async function trySet(name: BackendName, opts: BackendOptions): Promise<boolean> {
  try {
    if (name === 'wasm') return await setupWasm(opts);
    if (name === 'webgpu') {
      await import('@tensorflow/tfjs-backend-webgpu');
      return await tf.setBackend('webgpu');
    }
    return await tf.setBackend(name);
  } catch {
    return false;
  }
}

/**
 * Activate a backend ("auto": WebGPU with a hardware adapter, else wasm, webgl, cpu) and install
 * the gradient overrides. Throws LabError('bad-argument') if a forced backend cannot start.
 */
export async function initBackend(choice: BackendChoice = 'auto', opts: BackendOptions = {}): Promise<BackendInfo> {
  let order: BackendName[];
  if (choice === 'auto') order = (await hasWebGpuAdapter()) ? ['webgpu', 'wasm', 'webgl', 'cpu'] : ['wasm', 'webgl', 'cpu'];
  else if (['wasm', 'webgpu', 'webgl', 'cpu'].includes(choice)) order = [choice];
  else throw new LabError('bad-argument', `Unknown backend "${String(choice)}"; expected auto, webgpu, wasm, webgl or cpu.`);
  for (const name of order) {
    if (await trySet(name, opts)) {
      await tf.ready();
      installConvGradient();
      const info: BackendInfo = { name };
      if (name === 'wasm') {
        const wasm = await import('@tensorflow/tfjs-backend-wasm');
        info.threads = wasm.getThreadsCount();
      }
      return info;
    }
  }
  throw new LabError('bad-argument', `The ${choice === 'auto' ? 'available' : choice} backend could not be started in this environment.`);
}
