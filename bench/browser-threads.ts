/**
 * Which training kernels use wasm's second thread (issue #21, item 3), measured in Chromium: the
 * lab's worker with 1 thread and with 2 (`?threads=`), two pages open side by side and called in
 * turn (1, 2, 1, 2, ...), each timing the pruned default model (ResNet-50 x0.5 pruned with L1,
 * local ranking, inner scope, to half its MACs, as the page prunes it) and profiling its training
 * step per kernel (tf.profile; the wasm backend times each kernel's call in wall time, the thread
 * pool's work included). A kernel whose time halves with the second thread uses it; one whose
 * time stays runs on the calling thread alone.
 *
 *   npx vite build && LAB_DIST=dist npx tsx bench/browser-threads.ts [--steps 2] [--rounds 2] [--macs 0.5] [--write]
 *
 * Needs an otherwise idle machine: with other jobs on the cores, the 2-thread page cannot get two.
 */
import * as os from 'node:os';
import type { BrowserContext, Page } from 'playwright-core';
import { launchBrowser, startPreview } from '../test/e2e/browser';
import type { ThroughputRequest, ThroughputResult } from '../src/workers/api';
import { writeSection } from './section';
import { arg, flag } from './args';

export const HEADING = '## Training kernels and wasm threads (Chromium)';

const median = (xs: number[]) => {
  const v = [...xs].sort((a, b) => a - b);
  const m = Math.floor(v.length / 2);
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
};

async function openWorker(origin: string, threads: number, context: BrowserContext): Promise<Page> {
  const page = await context.newPage();
  await page.goto(`${origin}/?backend=wasm&model=tiny&tier=XS&threads=${threads}`);
  await page.waitForSelector('.app[data-busy="false"]', { timeout: 600_000 });
  const status = await page.evaluate(() => window.__lab!.getStatus());
  if (status?.name !== 'wasm') throw new Error(`Asked for wasm, the worker runs ${status?.name}`);
  if ((status.wasm?.threadCount ?? 1) !== threads) throw new Error(`Asked for ${threads} wasm threads, the worker runs ${status.wasm?.threadCount}`);
  return page;
}

async function main(): Promise<void> {
  const steps = Number(arg('steps', '2'));
  const rounds = Number(arg('rounds', '2'));
  const macsKeep = Number(arg('macs', '0.5'));
  const load0 = os.loadavg()[0];
  const server = await startPreview();
  const lb = await launchBrowser();
  try {
    const context = await lb.browser.newContext();
    const pages = new Map<number, Page>([
      [1, await openWorker(server.origin, 1, context)],
      [2, await openWorker(server.origin, 2, context)],
    ]);
    const results = new Map<number, ThroughputResult[]>([[1, []], [2, []]]);
    let n = 0;
    for (let round = 0; round < rounds; round++) {
      for (const [threads, page] of pages) {
        const req: ThroughputRequest = { depth: 50, width: 0.5, batch: 32, steps, macsKeep, profile: true };
        const r = await page.evaluate(([q, id]) => window.__lab!.benchmarkThroughput(q, id), [req, `threads-${++n}`] as const);
        results.get(threads)!.push(r);
        console.log(`${threads} thread(s), round ${round + 1}: forward ${r.forwardImagesPerSecond.toFixed(1)} img/s, training ${r.trainImagesPerSecond!.toFixed(2)} img/s (${r.trainMsPerStep!.toFixed(0)} ms/step), kernels ${r.kernelMs!.toFixed(0)} ms/step; load ${os.loadavg()[0].toFixed(1)}`);
      }
    }
    const load1 = os.loadavg()[0];
    const one = results.get(1)!;
    const two = results.get(2)!;
    // Per kernel: the median over rounds of its ms per step.
    const kernelMs = (rs: ThroughputResult[], name: string) => median(rs.map((r) => r.kernels!.find((k) => k.kernel === name)?.msPerRun ?? 0));
    const total1 = median(one.map((r) => r.kernelMs!));
    const names = [...new Set(one.flatMap((r) => r.kernels!.filter((k) => k.msPerRun / r.kernelMs! >= 0.01).map((k) => k.kernel)))];
    const rows = names.map((name) => ({ name, a: kernelMs(one, name), b: kernelMs(two, name) })).sort((x, y) => y.a - x.a);
    const pooled = rows.filter((r) => r.a / r.b >= 1.5);
    const pooledShare = pooled.reduce((s, r) => s + r.a, 0) / total1;
    const fmt = (xs: number[], d: number) => xs.map((x) => x.toFixed(d)).join(', ');
    const lines = [
      HEADING,
      '',
      `Measured ${new Date().toISOString().slice(0, 10)} with \`npx vite build && LAB_DIST=dist npx tsx bench/browser-threads.ts --steps ${steps} --rounds ${rounds} --macs ${macsKeep}${process.argv.includes('--write') ? ' --write' : ''}\`: Chromium ${lb.browser.version()} headless, the lab's worker on wasm (threaded SIMD build) with \`?threads=1\` and \`?threads=2\`, two pages called in turn; ${os.cpus()[0]?.model ?? 'CPU'}, ${os.cpus().length} cores; 1-minute load average ${load0.toFixed(1)} at the start, ${load1.toFixed(1)} at the end. ResNet-50 x0.5 pruned with L1 (local ranking, inner scope) to ${(one[0].macs / 1e6).toFixed(1)} MMACs (${Math.round(100 * macsKeep)}% of its MACs, as the page prunes the default model), batch 32 (P=8 x K=4) at 128x64, random init. Per kernel: wall ms per training step from tf.profile (the thread pool's work included), median over ${rounds} rounds of ${steps} profiled steps.`,
      '',
      '| | 1 thread | 2 threads | speed-up |',
      '|---|---:|---:|---:|',
      `| Forward, img/s (each round) | ${fmt(one.map((r) => r.forwardImagesPerSecond), 1)} | ${fmt(two.map((r) => r.forwardImagesPerSecond), 1)} | ${(median(two.map((r) => r.forwardImagesPerSecond)) / median(one.map((r) => r.forwardImagesPerSecond))).toFixed(2)}x |`,
      `| Training, img/s (each round) | ${fmt(one.map((r) => r.trainImagesPerSecond!), 2)} | ${fmt(two.map((r) => r.trainImagesPerSecond!), 2)} | ${(median(two.map((r) => r.trainImagesPerSecond!)) / median(one.map((r) => r.trainImagesPerSecond!))).toFixed(2)}x |`,
      `| Profiled step, all kernels, ms | ${total1.toFixed(0)} | ${median(two.map((r) => r.kernelMs!)).toFixed(0)} | ${(total1 / median(two.map((r) => r.kernelMs!))).toFixed(2)}x |`,
      '',
      '| Kernel (≥ 1% of the 1-thread step) | 1 thread, ms/step | 2 threads, ms/step | speed-up | share at 1 thread |',
      '|---|---:|---:|---:|---:|',
      ...rows.map((r) => `| ${r.name} | ${r.a.toFixed(0)} | ${r.b.toFixed(0)} | ${(r.a / r.b).toFixed(2)}x | ${((100 * r.a) / total1).toFixed(1)}% |`),
      '',
      `Kernels at least 1.5x faster with the second thread (they use the pool): ${pooled.map((r) => r.name).join(', ') || 'none'}, ${(100 * pooledShare).toFixed(0)}% of the 1-thread step's kernel time. ` +
        `Amdahl with the rest on one thread: at most ${(1 / (1 - pooledShare + pooledShare / 2)).toFixed(2)}x from two threads.`,
    ];
    const section = lines.join('\n') + '\n';
    console.log('\n' + section);
    if (flag('write')) writeSection(HEADING, section);
    await context.close();
  } finally {
    await lb.close();
    await server.stop();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
