/**
 * Phase 1 of the lab's page in real Chromium: the worker starts the requested backend (wasm
 * with threads under cross-origin isolation; WebGPU on the SwiftShader adapter), the model strip
 * shows the architecture, long operations stay off the main thread and can be cancelled, errors
 * reach the banner as sentences, and nothing leaves the page's origin.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatMacs, formatParams, modelCost } from '../../src/engine/cost/macs';
import { buildSpec } from '../../src/engine/model/spec';
import { launchBrowser, longTaskSupported, longTasksSince, openLab, pageNow, screenshot, startPreview, type LabBrowser, type LabPage, type Server } from './browser';
import { DEFAULT_MODEL_NAME } from '../../src/workers/model-source';

// Conv layers counted by hand from torchvision's layouts: stem conv1, then per block its convs
// (2 basic, 3 bottleneck) plus a downsample conv where the block changes shape.
const RESNET50_CONVS = 1 + 16 * 3 + 4; // every stage's first block downsamples (64 -> 256 in layer1)
const RESNET18_CONVS = 1 + 8 * 2 + 3; // layer1 keeps 64 channels at stride 1: no downsample

let server: Server;
let lb: LabBrowser;

beforeAll(async () => {
  server = await startPreview();
  lb = await launchBrowser();
});

afterAll(async () => {
  await lb?.close();
  await server?.stop();
});

/** The model strip is drawn and the start-up work (dataset, latency, baseline score) is done. */
async function waitForModel(lab: LabPage): Promise<void> {
  await lab.page.waitForSelector('[data-testid="model-strip"]', { timeout: 180_000 });
  await lab.page.waitForSelector('.app[data-busy="false"]', { timeout: 300_000 });
}

describe('the lab page', () => {
  it('serves the page cross-origin isolated (COOP/COEP)', async () => {
    const res = await fetch(server.origin + '/');
    expect(res.headers.get('cross-origin-opener-policy')).toBe('same-origin');
    expect(res.headers.get('cross-origin-embedder-policy')).toBe('require-corp');
  });

  it('?threads=1 runs wasm on one thread and says so; a bad count falls back to one per core with a sentence', async () => {
    const one = await openLab(lb, server.origin, '?backend=wasm&model=tiny&tier=XS&threads=1');
    try {
      await waitForModel(one);
      const badge = one.page.getByTestId('backend');
      await expect.poll(() => badge.getAttribute('data-threads')).toBe('1');
      expect(await one.page.getByTestId('backend-detail').textContent()).toContain('single thread');
      expect((await one.page.evaluate(() => window.__lab!.getStatus()))?.wasm?.threadCount).toBe(1);
      // The same worker refuses another thread count with a sentence (a new count needs a new worker).
      const refused = await one.page.evaluate(() => window.__lab!.init('wasm', { threads: 2 }).then(() => 'accepted', (e: Error) => e.message));
      expect(refused).toContain('another backend or thread count needs a new worker');
      expect(one.errors).toEqual([]);
    } finally {
      await one.close();
    }
    const bad = await openLab(lb, server.origin, '?backend=wasm&model=tiny&tier=XS&threads=99');
    try {
      await waitForModel(bad);
      // One per core, at least 2 (workers/backend.ts).
      await expect.poll(async () => Number(await bad.page.getByTestId('backend').getAttribute('data-threads'))).toBeGreaterThanOrEqual(2);
      await expect.poll(() => bad.page.getByText('The address sets threads="99"').count()).toBeGreaterThan(0);
    } finally {
      await bad.close();
    }
  });

  it('runs wasm with threads on ?backend=wasm and draws the model strip', async () => {
    const lab = await openLab(lb, server.origin, '?backend=wasm&tier=XS');
    try {
      await waitForModel(lab);
      const badge = lab.page.getByTestId('backend');
      await expect.poll(() => badge.getAttribute('data-backend')).toBe('wasm');
      expect(await lab.page.getByTestId('backend-name').textContent()).toBe('wasm');
      expect(await badge.getAttribute('data-isolated')).toBe('true');
      expect(await lab.page.evaluate(() => crossOriginIsolated)).toBe(true);
      const threads = Number(await badge.getAttribute('data-threads'));
      expect(threads).toBeGreaterThanOrEqual(2);
      expect(await lab.page.getByTestId('backend-detail').textContent()).toContain(`${threads} threads`);

      // The status the worker reports agrees with the header.
      const status = await lab.page.evaluate(() => window.__lab!.getStatus());
      expect(status?.name).toBe('wasm');
      expect(status?.wasm?.simd).toBe(true);
      expect(status?.wasm?.threadCount).toBe(threads);

      // Default model: ResNet-50 at width 0.5 (random until the zoo ships trained weights).
      const bars = lab.page.getByTestId('strip-bar');
      expect(await bars.count()).toBe(RESNET50_CONVS);
      expect(await bars.first().getAttribute('data-channels')).toBe('32'); // stem: 64 x 0.5
      expect(await lab.page.locator('[data-layer="layer4.2.conv3"]').getAttribute('data-channels')).toBe('1024'); // 512 x 0.5 x 4
      // The cost shown is the engine's count for that spec (the counting itself is unit-tested).
      const cost = modelCost(buildSpec({ depth: 50, widthMultiplier: 0.5 }));
      expect(await lab.page.getByTestId('macs').textContent()).toBe(formatMacs(cost.macs));
      expect(await lab.page.getByTestId('params').textContent()).toBe(formatParams(cost.params));

      await screenshot(lab.page, 'wasm-model');
      expect(lab.foreignRequests()).toEqual([]);
      // The watcher sees the worker's requests too (only the worker fetches the wasm binary).
      expect(lab.requests.some((u) => u.endsWith('.wasm'))).toBe(true);
      expect(lab.errors).toEqual([]);
      // Nothing fails to load (a checkout without the zoo's default would miss only its probe, and build a random one).
      expect(lab.failedResponses.filter((r) => !r.endsWith(`/models/${DEFAULT_MODEL_NAME}/model.json`))).toEqual([]);
    } finally {
      await lab.close();
    }
  });

  it('keeps the main thread free while the worker measures latency', async () => {
    const lab = await openLab(lb, server.origin, '?backend=wasm&tier=XS');
    try {
      await waitForModel(lab);
      expect(await longTaskSupported(lab.page)).toBe(true);
      const since = await pageNow(lab.page);
      await lab.page.getByTestId('measure-latency').click();
      await expect.poll(() => lab.page.getByTestId('latency').textContent(), { timeout: 120_000 }).toMatch(/^\d+(\.\d+)? ms$/);
      const ms = parseFloat((await lab.page.getByTestId('latency').textContent())!);
      expect(ms).toBeGreaterThan(0);
      expect(await longTasksSince(lab.page, since)).toEqual([]);
      expect(lab.foreignRequests()).toEqual([]);
    } finally {
      await lab.close();
    }
  });

  it('cancels a running job and frees its tensors', async () => {
    const lab = await openLab(lb, server.origin, '?backend=wasm&model=tiny&tier=XS');
    try {
      await waitForModel(lab);
      const outcome = await lab.page.evaluate(async () => {
        const api = window.__lab!;
        // A bad argument is refused with a sentence and a code, before any work starts.
        const refused = await api.measureLatency({ runs: 0 }, 'bad').then(
          () => null,
          (e: { code?: string; message: string }) => ({ code: e.code, message: e.message }),
        );
        const before = await api.numTensors();
        const job = api.measureLatency({ batch: 8, runs: 1000, warmup: 0 }, 'cancel-me');
        await new Promise((r) => setTimeout(r, 300));
        const accepted = await api.cancel('cancel-me');
        const err = await job.then(
          () => null,
          (e: { code?: string; message: string }) => ({ code: e.code, message: e.message }),
        );
        return { refused, before, after: await api.numTensors(), accepted, err, again: await api.cancel('cancel-me') };
      });
      expect(outcome.err).toEqual({ code: 'cancelled', message: 'Measuring latency was cancelled.' });
      expect(outcome.accepted).toBe(true);
      expect(outcome.after).toBe(outcome.before);
      expect(outcome.refused).toEqual({ code: 'bad-argument', message: 'Number of runs must be a whole number from 1 to 1000; got 0.' });
      expect(outcome.again).toBe(false); // the job is gone
    } finally {
      await lab.close();
    }
  });

  it('throttles progress events to about four a second, ending with the final one', async () => {
    const lab = await openLab(lb, server.origin, '?backend=wasm&model=tiny&tier=XS');
    try {
      await waitForModel(lab);
      const { events, ms } = await lab.page.evaluate(async () => {
        const events: { fraction: number; message: string; t: number }[] = [];
        const onProgress = window.__labProxy!((p: { fraction: number; message: string }) => {
          events.push({ fraction: p.fraction, message: p.message, t: performance.now() });
        });
        const t0 = performance.now();
        await window.__lab!.measureLatency({ runs: 150, warmup: 0 }, 'throttle', onProgress);
        const ms = performance.now() - t0;
        await new Promise((r) => setTimeout(r, 100)); // the last event may trail the result
        return { events, ms };
      });
      // Unthrottled there would be 150 events; a tiny model's run takes far less than 250 ms.
      expect(events.length).toBeLessThanOrEqual(Math.ceil(ms / 250) + 1);
      expect(events.length).toBeLessThan(150 / 2);
      expect(events[events.length - 1].fraction).toBe(1);
      expect(events[events.length - 1].message).toMatch(/^Run 150\/150: /);
      for (let i = 1; i < events.length; i++) expect(events[i].fraction).toBeGreaterThan(events[i - 1].fraction);
    } finally {
      await lab.close();
    }
  });

  it('runs the real WebGPU path on the SwiftShader adapter with ?backend=webgpu', async () => {
    const lab = await openLab(lb, server.origin, '?backend=webgpu&model=tiny&tier=XS');
    try {
      await waitForModel(lab);
      const badge = lab.page.getByTestId('backend');
      expect(await badge.getAttribute('data-backend')).toBe('webgpu');
      expect(await lab.page.getByTestId('backend-name').textContent()).toBe('webgpu');
      expect(await badge.getAttribute('data-adapter-architecture')).toBe('swiftshader');
      expect(await badge.getAttribute('data-adapter-fallback')).toBe('true');
      expect(await lab.page.getByTestId('backend-detail').textContent()).toContain('software fallback');
      expect(await lab.page.getByTestId('strip-bar').count()).toBe(RESNET18_CONVS);

      // A forward pass really runs on WebGPU.
      await lab.page.getByTestId('measure-latency').click();
      await expect.poll(() => lab.page.getByTestId('latency').textContent(), { timeout: 120_000 }).toMatch(/ms$/);
      await screenshot(lab.page, 'webgpu-tiny');
      expect(lab.foreignRequests()).toEqual([]);
    } finally {
      await lab.close();
    }
  });

  it('"auto" does not pick a software WebGPU adapter, and says why', async () => {
    const lab = await openLab(lb, server.origin, '?model=tiny&tier=XS');
    try {
      await waitForModel(lab);
      expect(await lab.page.getByTestId('backend').getAttribute('data-backend')).toBe('wasm');
      await expect.poll(() => lab.page.getByTestId('banner-notice').first().textContent()).toContain('software adapter');
    } finally {
      await lab.close();
    }
  });

  it('shows a clear sentence when the requested model does not exist', async () => {
    const lab = await openLab(lb, server.origin, '?backend=wasm&model=no-such-model');
    try {
      const banner = lab.page.getByTestId('banner-error');
      await banner.waitFor({ timeout: 120_000 });
      expect(await banner.textContent()).toContain('The model zoo has no model named "no-such-model"');
      expect(await lab.page.locator('.app').getAttribute('data-phase')).toBe('failed');
    } finally {
      await lab.close();
    }
  });

  it('switches backend from the selector with a fresh worker', async () => {
    const lab = await openLab(lb, server.origin, '?backend=wasm&model=tiny&tier=XS');
    try {
      await waitForModel(lab);
      await lab.page.getByTestId('backend-select').selectOption('cpu');
      await expect.poll(() => lab.page.getByTestId('backend').getAttribute('data-backend'), { timeout: 120_000 }).toBe('cpu');
      await waitForModel(lab);
      expect(new URL(lab.page.url()).searchParams.get('backend')).toBe('cpu');
      expect(await lab.page.getByTestId('strip-bar').count()).toBe(RESNET18_CONVS);
    } finally {
      await lab.close();
    }
  });
});
