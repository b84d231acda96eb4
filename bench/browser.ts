/**
 * The lab in Chromium (wasm and WebGPU), measured from the outside:
 *  (a) time from navigation to the baseline point on the chart, default model (ResNet-50 w0.5:
 *      the zoo's default (DEFAULT_MODEL_NAME) if public/models has it, else the random fallback) and the
 *      SynthReID-S target test set, on wasm;
 *  (b) requests and bytes the page loads for that, by type (js, wasm, model shards, other);
 *  (c) forward and training img/s, batch 32 at 128x64, ResNet-18/34/50 w0.5 in the lab's worker
 *      (its benchmarkThroughput method) on wasm, and a few steps on WebGPU (SwiftShader here:
 *      ~50x slower, so ResNet-18 w0.5 forward only plus a tiny model's training).
 *
 *   npm run build && npx tsx bench/browser.ts [--steps 3] [--skip-load] [--skip-throughput] [--skip-webgpu] [--json out.json] [--write]
 *
 * Builds nothing: it serves the existing dist/ with `vite preview` (the e2e harness's server and
 * Chromium flags). --write replaces the "## Browser" section of BENCHMARKS.md with the results.
 */
import * as os from 'node:os';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { writeSection } from './section';
import { ROOT, launchBrowser, startPreview, type LabBrowser } from '../test/e2e/browser';
import type { ThroughputRequest, ThroughputResult } from '../src/workers/api';
import { DEFAULT_MODEL_NAME } from '../src/workers/model-source';
import { arg, flag } from './args';

type Kind = 'js' | 'wasm' | 'model shards' | 'other';
interface Traffic {
  requests: number;
  /** Bytes on the wire: headers + body as sent (gzip where the server compressed it). */
  bytes: number;
  /** Body bytes after decoding (what the page parses or compiles). */
  decodedBytes: number;
}

function kindOf(url: string): Kind {
  const path = new URL(url).pathname;
  if (/\.(m?js|tsx?)$/.test(path)) return 'js';
  if (path.endsWith('.wasm')) return 'wasm';
  // The zoo: model.json (or the index.html a static host answers for a missing one) and shards.
  if (path.includes('/models/')) return 'model shards';
  return 'other';
}

interface LoadResult {
  model: string;
  modelSource: string;
  dataset: string;
  msToStrip: number;
  msToBaseline: number;
  baselineMAP: number | null;
  traffic: Record<Kind, Traffic>;
  total: Traffic;
}

/**
 * Poll the page until the milestone is reached; returns the page's clock (ms since navigation)
 * then. A function, not a string: the lab's CSP forbids evaluating strings.
 */
async function pageTimeWhen(page: Page, milestone: 'strip' | 'baseline', timeoutMs: number): Promise<number> {
  const handle = await page.waitForFunction(
    (m) => {
      const done =
        m === 'strip'
          ? document.querySelector('[data-testid="model-strip"]') !== null
          : Number(document.querySelector('[data-testid="results-chart"]')?.getAttribute('data-points') ?? 0) >= 1;
      return done ? performance.now() : false;
    },
    milestone,
    { timeout: timeoutMs, polling: 50 },
  );
  return Number(await handle.jsonValue());
}

async function measureLoad(lb: LabBrowser, origin: string): Promise<LoadResult> {
  const context = await lb.browser.newContext({ viewport: { width: 1440, height: 1000 } });
  const pending: Promise<void>[] = [];
  const empty = (): Traffic => ({ requests: 0, bytes: 0, decodedBytes: 0 });
  const traffic: Record<Kind, Traffic> = { js: empty(), wasm: empty(), 'model shards': empty(), other: empty() };
  const urls: string[] = [];
  context.on('requestfinished', (r) => {
    if (!r.url().startsWith('http')) return;
    pending.push(
      (async () => {
        const s = await r.sizes();
        const res = await r.response();
        const body = await res?.body().catch(() => null);
        const t = traffic[kindOf(r.url())];
        t.requests += 1;
        t.bytes += s.responseBodySize + s.responseHeadersSize;
        t.decodedBytes += body?.length ?? s.responseBodySize;
        urls.push(`${res?.status()} ${new URL(r.url()).pathname} ${s.responseBodySize}/${body?.length ?? '?'}`);
      })(),
    );
  });
  try {
    const page = await context.newPage();
    // The defaults: ResNet-50 w0.5, SynthReID-S target; only the backend is forced.
    await page.goto(`${origin}/?backend=wasm`);
    const msToStrip = await pageTimeWhen(page, 'strip', 600_000);
    const msToBaseline = await pageTimeWhen(page, 'baseline', 900_000);
    const info = await page.evaluate(async () => {
      const st = await window.__lab!.modelState();
      const ds = await window.__lab!.datasetSummary();
      return { model: st?.lineage.base ?? '?', source: st?.lineage.baseSource ?? '?', dataset: ds?.name ?? '?' };
    });
    const mapText = await page.getByTestId('last-eval').textContent().catch(() => null);
    const m = mapText?.match(/mAP (\d+\.\d+)/);
    await Promise.all(pending);
    const total = Object.values(traffic).reduce((a, t) => ({ requests: a.requests + t.requests, bytes: a.bytes + t.bytes, decodedBytes: a.decodedBytes + t.decodedBytes }), empty());
    console.log(urls.join('\n'));
    return { model: info.model, modelSource: info.source, dataset: info.dataset, msToStrip, msToBaseline, baselineMAP: m ? Number(m[1]) : null, traffic, total };
  } finally {
    await context.close();
  }
}

interface ThroughputRow extends ThroughputResult {
  threads: number | null;
  adapter: string | null;
}

/** A lab page on `backend` with the tiny model (its start-up is quick), then the worker's benchmark. */
async function measureThroughput(lb: LabBrowser, origin: string, backend: 'wasm' | 'webgpu', reqs: ThroughputRequest[]): Promise<ThroughputRow[]> {
  const context = await lb.browser.newContext();
  try {
    const page = await context.newPage();
    await page.goto(`${origin}/?backend=${backend}&model=tiny&tier=XS`);
    await page.waitForSelector('.app[data-busy="false"]', { timeout: 600_000 });
    const status = await page.evaluate(() => window.__lab!.getStatus());
    if (status?.name !== backend) throw new Error(`Asked for ${backend}, the worker runs ${status?.name}: ${status?.notes.join(' ')}`);
    const rows: ThroughputRow[] = [];
    let n = 0;
    for (const req of reqs) {
      const t0 = Date.now();
      const r = await page.evaluate(([q, id]) => window.__lab!.benchmarkThroughput(q, id), [req, `bench-${++n}`] as const);
      const row: ThroughputRow = { ...r, threads: status.wasm?.threadCount ?? null, adapter: status.adapter ? `${status.adapter.vendor} ${status.adapter.architecture}`.trim() : null };
      rows.push(row);
      console.log(
        `${backend.padEnd(6)} ResNet-${r.depth} w${r.width} ${r.input.height}x${r.input.width} b${r.batch}: forward ${r.forwardImagesPerSecond.toFixed(1)} img/s` +
          (r.trainImagesPerSecond === null ? '' : `, training ${r.trainImagesPerSecond.toFixed(2)} img/s`) +
          ` (${((Date.now() - t0) / 1000).toFixed(0)} s)`,
      );
    }
    return rows;
  } finally {
    await context.close();
  }
}

const mb = (b: number) => (b / 1e6).toFixed(2);
const fmt = (v: number | null, d = 1) => (v === null ? '–' : v.toFixed(d));

function markdown(meta: Record<string, unknown>, load: LoadResult | null, wasm: ThroughputRow[], gpu: ThroughputRow[], steps: number): string {
  const L: string[] = ['## Browser', ''];
  L.push(
    `Measured ${String(meta.date).slice(0, 10)} with \`npm run build && npx tsx bench/browser.ts\` on ${meta.cpu}, ${meta.cores} cores shared with other work ` +
      `(1-minute load average ${meta.loadStart} at the start, ${meta.loadEnd} at the end), ${meta.chromium} (headless, /usr/bin/chromium) driven by playwright-core, ` +
      `the built app served by \`vite preview\` (COOP/COEP, so wasm runs with threads).`,
    '',
  );
  if (load) {
    L.push(
      '### First impression (wasm)',
      '',
      `\`/?backend=wasm\` with the defaults: ${load.model} (**${load.modelSource === 'zoo' ? 'trained zoo weights' : `random fallback: public/models/${DEFAULT_MODEL_NAME} is absent`}**), dataset ${load.dataset}. Times are the page's clock from navigation.`,
      '',
      '| Milestone | Seconds |',
      '|---|---:|',
      `| Model strip drawn (worker up, backend started, model built) | ${(load.msToStrip / 1000).toFixed(1)} |`,
      `| Baseline point on the chart (dataset generated, latency measured, test set scored) | ${(load.msToBaseline / 1000).toFixed(1)} |`,
      '',
      `Baseline mAP shown: ${load.baselineMAP ?? '?'}${load.modelSource === 'random' ? ' (untrained weights: chance level)' : ''}.`,
      '',
      '| Requests by type | Requests | MB on the wire (headers + body as sent) | MB decoded |',
      '|---|---:|---:|---:|',
      ...(Object.entries(load.traffic) as [Kind, Traffic][]).map(([k, t]) => `| ${k} | ${t.requests} | ${mb(t.bytes)} | ${mb(t.decodedBytes)} |`),
      `| **total** | ${load.total.requests} | ${mb(load.total.bytes)} | ${mb(load.total.decodedBytes)} |`,
      '',
    );
  }
  const rows = (rs: ThroughputRow[]) => rs.map((r) => `| ResNet-${r.depth} w${r.width} | ${r.input.height}x${r.input.width} | ${r.batch} | ${r.steps} | ${fmt(r.forwardImagesPerSecond)} | ${fmt(r.trainImagesPerSecond, 2)} | ${fmt(r.trainMsPerStep, 0)} |`);
  const head = ['| Model | Input | Batch | Timed steps | Forward img/s | Training img/s | ms/step |', '|---|---|---:|---:|---:|---:|---:|'];
  if (wasm.length) {
    L.push(
      `### Throughput in the lab's worker: wasm, ${wasm[0].threads} threads`,
      '',
      `The worker's benchmark-only \`benchmarkThroughput\` (src/workers/throughput.ts): a fresh random model, one warm-up then ${steps} timed forwards (eval-mode embeddings, read back) and ${steps} timed whole trainer steps (P×K sampling, augmentation, forward, backward, Adam, BN statistics; P=8, K=4).`,
      '',
      ...head,
      ...rows(wasm),
      '',
    );
  }
  if (gpu.length) {
    L.push(
      `### Throughput in the lab's worker: WebGPU (${gpu[0].adapter || 'adapter unknown'}, a software adapter)`,
      '',
      'SwiftShader runs WebGPU on the CPU, far slower than wasm, so only a few steps: ResNet-18 w0.5 forward only, and the tiny model (ResNet-18 w0.125, 64x32) for training. These numbers say nothing about a real GPU.',
      '',
      ...head,
      ...rows(gpu),
      '',
    );
  }
  L.push(
    '- The machine was shared (see the load averages), so these are lower bounds; compare with the Node numbers in "Training throughput" (single-threaded wasm) only with that in mind.',
    '',
  );
  return L.join('\n');
}

async function main() {
  if (!existsSync(join(ROOT, 'dist', 'index.html'))) {
    console.error('dist/ is missing: run `npm run build` first (this benchmark measures the built app and builds nothing itself).');
    process.exit(1);
  }
  const steps = Number(arg('steps', '3'));
  const loadStart = os.loadavg()[0];
  const server = await startPreview();
  const lb = await launchBrowser();
  try {
    const chromium = `Chromium ${lb.browser.version()}`;
    let load: LoadResult | null = null;
    if (!flag('skip-load')) {
      load = await measureLoad(lb, server.origin);
      console.log(`load: ${load.model} (${load.modelSource}) on ${load.dataset}: strip ${(load.msToStrip / 1000).toFixed(1)} s, baseline ${(load.msToBaseline / 1000).toFixed(1)} s; ${load.total.requests} requests, ${mb(load.total.bytes)} MB`);
      console.log(JSON.stringify(load.traffic));
    }
    const wasm = flag('skip-throughput') ? [] : await measureThroughput(lb, server.origin, 'wasm', ([18, 34, 50] as const).map((depth) => ({ depth, width: 0.5, batch: 32, steps })));
    const gpu = flag('skip-webgpu') || flag('skip-throughput')
      ? []
      : await measureThroughput(lb, server.origin, 'webgpu', [
          { depth: 18, width: 0.5, batch: 32, steps: 1, train: false },
          { depth: 18, width: 0.125, batch: 32, steps: 2, train: true, height: 64, inputWidth: 32 },
        ]);
    const meta = {
      date: new Date().toISOString(),
      cpu: os.cpus()[0]?.model ?? 'unknown',
      cores: os.cpus().length,
      chromium,
      loadStart: loadStart.toFixed(1),
      loadEnd: os.loadavg()[0].toFixed(1),
      steps,
    };
    console.log(JSON.stringify(meta));
    const out = arg('json', '');
    if (out) writeFileSync(out, JSON.stringify({ meta, load, wasm, gpu }, null, 2));
    const md = markdown(meta, load, wasm, gpu, steps);
    if (flag('write')) writeSection('## Browser', md);
    else console.log('\n' + md);
  } finally {
    await lb.close();
    await server.stop();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
