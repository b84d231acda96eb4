/**
 * Where a piece of work's time goes, per backend kernel (tf.profile), averaged over repeats.
 * bench/train-profile.ts (Node) and the worker's throughput benchmark (Chromium) both use it, so
 * a breakdown measured in the page and one measured in Node count the same things.
 */
import * as tf from '@tensorflow/tfjs';

export interface KernelTime {
  kernel: string;
  /** Milliseconds per repeat, as the backend's kernel timer reports them. */
  msPerRun: number;
  /** Of all kernels' time. */
  share: number;
  callsPerRun: number;
}

export interface KernelProfile {
  /** Sum over kernels, ms per repeat. */
  kernelMs: number;
  /** Slowest first. */
  kernels: KernelTime[];
}

/**
 * Profile `work` `repeats` times. tf.profile also lists scopes (customGrad ops, tf.fused.*
 * wrappers) around kernels it lists too: only registered backend kernels count, so the total is
 * the kernels' time, each counted once.
 */
export async function profileKernels(work: () => Promise<unknown>, repeats = 1): Promise<KernelProfile> {
  const byKernel = new Map<string, { ms: number; calls: number }>();
  const backend = tf.getBackend();
  for (let i = 0; i < repeats; i++) {
    const info = await tf.profile(() => work().then(() => []));
    for (const k of info.kernels) {
      if (!tf.getKernel(k.name, backend)) continue;
      const e = byKernel.get(k.name) ?? { ms: 0, calls: 0 };
      e.ms += Number(await k.kernelTimeMs);
      e.calls++;
      byKernel.set(k.name, e);
    }
  }
  const kernelMs = [...byKernel.values()].reduce((s, e) => s + e.ms, 0) / repeats;
  const kernels = [...byKernel]
    .map(([kernel, e]) => ({ kernel, msPerRun: e.ms / repeats, share: kernelMs > 0 ? e.ms / repeats / kernelMs : 0, callsPerRun: e.calls / repeats }))
    .sort((a, b) => b.msPerRun - a.msPerRun);
  return { kernelMs, kernels };
}
