/**
 * Training throughput in Chromium (the lab's worker, wasm with its threads), old vs new in one
 * run: the worker's benchmarkThroughput with the fused training ops off ("old", the step before
 * issue #21) and on ("new"), alternating, for ResNet-18/50 x0.5, batch 32 at 128x64.
 *
 *   npx vite build --outDir dist-x && LAB_DIST=dist-x npx tsx bench/browser-train.ts [--steps 2] [--rounds 2] [--models 50,18] [--macs 0.5]
 * --macs 0.5: each model pruned first (L1, local ranking, inner scope: the page's defaults) to that
 * share of its MACs, e.g. the default model as the page prunes it.
 */
import * as os from 'node:os';
import { launchBrowser, startPreview } from '../test/e2e/browser';
import type { ThroughputRequest, ThroughputResult } from '../src/workers/api';
import { arg } from './args';

async function main(): Promise<void> {
  const steps = Number(arg('steps', '2'));
  const rounds = Number(arg('rounds', '2'));
  const depths = arg('models', '50,18').split(',').map(Number) as (18 | 50)[];
  const macsArg = arg('macs', '');
  const macsKeep = macsArg ? Number(macsArg) : undefined;
  const what = macsKeep ? ` pruned to ${Math.round(100 * macsKeep)}% MACs` : '';
  const load0 = os.loadavg()[0];
  const server = await startPreview();
  const lb = await launchBrowser();
  try {
    const context = await lb.browser.newContext();
    const page = await context.newPage();
    await page.goto(`${server.origin}/?backend=wasm&model=tiny&tier=XS`);
    await page.waitForSelector('.app[data-busy="false"]', { timeout: 600_000 });
    const status = await page.evaluate(() => window.__lab!.getStatus());
    if (status?.name !== 'wasm') throw new Error(`Asked for wasm, the worker runs ${status?.name}`);
    const threads = status.wasm?.threadCount ?? null;
    console.log(`Chromium ${lb.browser.version()}, wasm with ${threads} threads; load ${load0.toFixed(1)}`);
    let n = 0;
    const results: { depth: number; variant: string; r: ThroughputResult }[] = [];
    for (const depth of depths) {
      for (let round = 0; round < rounds; round++) {
        for (const fused of [false, true]) {
          const req: ThroughputRequest = { depth, width: 0.5, batch: 32, steps, fusedTrainOps: fused, ...(macsKeep ? { macsKeep } : {}) };
          const r = await page.evaluate(([q, id]) => window.__lab!.benchmarkThroughput(q, id), [req, `bench-${++n}`] as const);
          const variant = fused ? 'new' : 'old';
          results.push({ depth, variant, r });
          console.log(`ResNet-${depth} x0.5${what} (${(r.macs / 1e6).toFixed(1)} MMACs) ${variant}: forward ${r.forwardImagesPerSecond.toFixed(1)} img/s, training ${r.trainImagesPerSecond?.toFixed(2)} img/s (${r.trainMsPerStep?.toFixed(0)} ms/step), load ${os.loadavg()[0].toFixed(1)}`);
        }
      }
    }
    console.log('\n| Model | Variant | Rounds | Training img/s (each round) | Forward img/s |');
    console.log('|---|---|---:|---|---:|');
    for (const depth of depths) {
      for (const variant of ['old', 'new']) {
        const rs = results.filter((x) => x.depth === depth && x.variant === variant).map((x) => x.r);
        console.log(`| ResNet-${depth} x0.5${what} | ${variant} | ${rs.length} | ${rs.map((r) => r.trainImagesPerSecond?.toFixed(2)).join(', ')} | ${rs.map((r) => r.forwardImagesPerSecond.toFixed(1)).join(', ')} |`);
      }
    }
    console.log(JSON.stringify({ date: new Date().toISOString(), chromium: lb.browser.version(), threads, loadStart: load0, loadEnd: os.loadavg()[0], steps, rounds }));
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
