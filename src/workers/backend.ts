/**
 * Choosing and starting the tfjs backend inside the worker.
 *
 * "auto": WebGPU when a real hardware adapter exists; otherwise wasm (XNNPACK, SIMD, threads),
 * which on CPUs beats WebGL and software WebGPU by 10-40x (design.md); then WebGL; then cpu.
 * A forced choice that cannot start falls back to "auto" with a note, so the page still works
 * and says why. Starting one backend (wasm paths, thread pool, gradient overrides) is the
 * engine's initBackend; this module decides which, with the adapter facts the UI shows.
 */
import * as tf from '@tensorflow/tfjs';
import { getThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import { initBackend } from '../engine/backend/init';
// Vite 7 serves these from the build; passing the URLs explicitly is what makes the threaded
// variant load from a worker (design.md).
import wasmPlainUrl from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm?url';
import wasmSimdUrl from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm?url';
import wasmThreadedSimdUrl from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm?url';
import type { AdapterInfo, BackendChoice, BackendName, BackendStatus, WasmInfo } from './api';

// Just enough of the WebGPU API for probing (lib.dom of TS 5.9 has no WebGPU types).
interface GpuAdapterInfoLike {
  vendor?: string;
  architecture?: string;
  device?: string;
  description?: string;
  isFallbackAdapter?: boolean;
}
interface GpuAdapterLike {
  info?: GpuAdapterInfoLike;
  isFallbackAdapter?: boolean;
}
interface GpuLike {
  requestAdapter(opts?: { powerPreference?: string }): Promise<GpuAdapterLike | null>;
}

/** A software rasteriser or fallback adapter: runs, but is no faster than the CPU paths. */
export function isSoftwareAdapter(info: AdapterInfo): boolean {
  if (info.isFallbackAdapter) return true;
  const text = `${info.vendor} ${info.architecture} ${info.device} ${info.description}`;
  return /swiftshader|llvmpipe|softpipe|software|microsoft basic render|warp/i.test(text);
}

export async function probeWebGpu(): Promise<{ adapter?: AdapterInfo; note?: string }> {
  const gpu = (navigator as unknown as { gpu?: GpuLike }).gpu;
  if (!gpu) return { note: 'WebGPU is not available in this browser.' };
  let adapter: GpuAdapterLike | null = null;
  try {
    // Same request tfjs makes, so the probe sees the adapter tfjs will use.
    adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  } catch (e) {
    return { note: `WebGPU could not provide a GPU adapter (${(e as Error).message}).` };
  }
  if (!adapter) return { note: 'WebGPU is present but offers no GPU adapter on this machine.' };
  const i = adapter.info ?? {};
  const info: AdapterInfo = {
    vendor: i.vendor ?? '',
    architecture: i.architecture ?? '',
    device: i.device ?? '',
    description: i.description ?? '',
    isFallbackAdapter: Boolean(i.isFallbackAdapter ?? adapter.isFallbackAdapter ?? false),
  };
  if (info.architecture.toLowerCase() === 'swiftshader') info.isFallbackAdapter = true;
  return { adapter: info };
}

/**
 * Threads for XNNPACK: the user's count when given, else one per core, at least 2 (the page's
 * main thread needs little CPU) and at most 8.
 */
export function wasmThreadCount(realCores: number, asked?: number): number {
  return asked ?? Math.max(2, Math.min(realCores, 8));
}

const WASM_PATHS = {
  'tfjs-backend-wasm.wasm': wasmPlainUrl,
  'tfjs-backend-wasm-simd.wasm': wasmSimdUrl,
  'tfjs-backend-wasm-threaded-simd.wasm': wasmThreadedSimdUrl,
};

/** initBackend (engine) sets paths, lifts tfjs's thread cap and installs the gradient overrides. */
async function tryStart(name: BackendName, realCores: number, threads?: number): Promise<boolean> {
  try {
    const info = await initBackend(name, { wasmPaths: WASM_PATHS, threads: wasmThreadCount(realCores, threads) });
    return info.name === name && tf.getBackend() === name;
  } catch {
    return false;
  }
}

async function wasmInfo(): Promise<WasmInfo> {
  const simd = Boolean(await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'));
  const threadsSupported = Boolean(await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT'));
  return { simd, threadsSupported, threadCount: threadsSupported ? getThreadsCount() : 1 };
}

function webglAdapter(): AdapterInfo | undefined {
  const gl = (tf.backend() as unknown as { gpgpu?: { gl?: WebGLRenderingContext } }).gpgpu?.gl;
  if (!gl) return undefined;
  const ext = gl.getExtension('WEBGL_debug_renderer_info');
  const vendor = String(gl.getParameter(ext ? ext.UNMASKED_VENDOR_WEBGL : gl.VENDOR) ?? '');
  const renderer = String(gl.getParameter(ext ? ext.UNMASKED_RENDERER_WEBGL : gl.RENDERER) ?? '');
  const info: AdapterInfo = { vendor, architecture: '', device: renderer, description: renderer, isFallbackAdapter: false };
  info.isFallbackAdapter = isSoftwareAdapter(info);
  return info;
}

/** Start a backend; never throws for an unavailable backend, it falls back and notes why. */
export async function startBackend(choice: BackendChoice, threads?: number): Promise<BackendStatus> {
  const realCores = navigator.hardwareConcurrency || 1;
  const notes: string[] = [];
  const status = (name: BackendName, extra: Partial<BackendStatus>): BackendStatus => ({
    choice,
    name,
    hardwareAccelerated: false,
    crossOriginIsolated: Boolean((globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated),
    hardwareConcurrency: realCores,
    notes,
    ...extra,
  });

  if (choice === 'webgpu' || choice === 'auto') {
    const probe = await probeWebGpu();
    if (probe.note) notes.push(probe.note);
    const adapter = probe.adapter;
    if (adapter) {
      const hardware = !isSoftwareAdapter(adapter);
      if (choice === 'webgpu' || hardware) {
        if (await tryStart('webgpu', realCores)) return status('webgpu', { adapter, hardwareAccelerated: hardware });
        notes.push('WebGPU found an adapter but could not start on it.');
      } else {
        notes.push(`WebGPU offers only a software adapter (${adapter.architecture || adapter.description || 'fallback'}), slower than the CPU path, so the lab uses the CPU.`);
      }
    }
    if (choice === 'webgpu') notes.push('WebGPU was requested but cannot run here; the lab picked the next best backend.');
  }

  if (choice === 'webgl') {
    if (await tryStart('webgl', realCores)) {
      const adapter = webglAdapter();
      return status('webgl', { adapter, hardwareAccelerated: adapter ? !adapter.isFallbackAdapter : false });
    }
    notes.push('WebGL was requested but cannot run here; the lab picked the next best backend.');
  }

  if (choice === 'cpu' && (await tryStart('cpu', realCores))) return status('cpu', {});

  // wasm: the CPU fast path, and the fallback for every choice that failed above.
  if (await tryStart('wasm', realCores, threads)) {
    const wasm = await wasmInfo();
    if (!wasm.threadsSupported) notes.push('wasm runs single-threaded: the page is not cross-origin isolated (COOP/COEP headers missing).');
    if (!wasm.simd) notes.push('This browser has no wasm SIMD; the CPU path will be several times slower.');
    return status('wasm', { wasm });
  }
  notes.push('The wasm backend could not start.');
  if (await tryStart('webgl', realCores)) {
    const adapter = webglAdapter();
    return status('webgl', { adapter, hardwareAccelerated: adapter ? !adapter.isFallbackAdapter : false });
  }
  notes.push('WebGL could not start either; using the plain JavaScript backend, which is very slow.');
  await tryStart('cpu', realCores);
  return status('cpu', {});
}
