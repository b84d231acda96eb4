/**
 * WebGPU (SwiftShader here) over time: repeated prune -> evaluate -> reset cycles leave the
 * worker's tensor count where it started (GPU buffers are not leaked cycle after cycle), and a
 * lost device is said in the banner, the lab falls back to wasm, loads the model again and
 * carries on. Tiny model and SynthReID-XS: software WebGPU is ~50x slower than wasm.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, openLab, startPreview, type LabBrowser, type LabPage, type Server, chartPoints, idle } from './browser';

const FAST = 'model=tiny&tier=XS';

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

async function baseline(lab: LabPage): Promise<void> {
  await expect.poll(() => chartPoints(lab), { timeout: 300_000, interval: 250 }).toBeGreaterThanOrEqual(1);
  await idle(lab, 300_000);
}

describe('WebGPU', () => {
  it('10 cycles of prune -> evaluate -> reset return the worker to its tensor count', async () => {
    const lab = await openLab(lb, server.origin, `?backend=webgpu&${FAST}`);
    try {
      await baseline(lab);
      expect(await lab.page.getByTestId('backend').getAttribute('data-backend')).toBe('webgpu');
      const counts = await lab.page.evaluate(async () => {
        const lab = window.__lab!;
        const before = await lab.numTensors();
        const after: number[] = [];
        const rates: number[] = [];
        for (let i = 0; i < 10; i++) {
          // Rates vary so each cycle builds a differently shaped model.
          const out = await lab.prune({ criterion: i % 2 ? 'l2' : 'l1', target: { kind: 'rate', rate: 0.2 + 0.05 * (i % 4) }, scope: 'inner', ranking: 'local', strategy: 'once', seed: i + 1 }, `mem-prune-${i}`);
          rates.push(out.state.lineage.prune!.removedFraction);
          await lab.evaluate(`mem-eval-${i}`);
          await lab.resetModel();
          after.push(await lab.numTensors());
        }
        return { before, after, rates };
      });
      console.log(`webgpu tensors: ${counts.before} before, after each cycle ${counts.after.join(' ')}`);
      // The pruning really happened (channels removed), then every cycle ended where it began.
      for (const r of counts.rates) expect(r).toBeGreaterThan(0.1);
      expect(counts.after).toEqual(counts.after.map(() => counts.before));
      expect(lab.errors).toEqual([]);
    } finally {
      await lab.close();
    }
  });

  it('a lost device is said in the banner; the lab falls back to wasm, reloads the model and carries on', async () => {
    const lab = await openLab(lb, server.origin, `?backend=webgpu&${FAST}&rate=0.3`);
    try {
      await baseline(lab);
      expect(await lab.page.getByTestId('backend').getAttribute('data-backend')).toBe('webgpu');
      expect(await lab.page.evaluate(() => window.__lab!.simulateDeviceLoss())).toBe(true);
      await expect
        .poll(() => lab.page.getByTestId('banner-error').allTextContents(), { timeout: 60_000 })
        .toContainEqual(expect.stringContaining('The GPU stopped responding (WebGPU device lost: destroyed'));
      await expect.poll(() => lab.page.getByTestId('backend').getAttribute('data-backend'), { timeout: 120_000 }).toBe('wasm');
      expect(new URL(await lab.page.evaluate(() => location.href)).searchParams.get('backend')).toBe('wasm');
      await baseline(lab);
      expect(await lab.page.getByTestId('model-name').textContent()).toBe('tiny');
      // Carries on: a prune on the wasm worker adds a point.
      await lab.page.getByTestId('prune').click();
      await expect.poll(() => chartPoints(lab), { timeout: 120_000 }).toBe(2);
      await idle(lab, 300_000);
      expect(await lab.page.evaluate(() => window.__lab!.simulateDeviceLoss())).toBe(false);
    } finally {
      await lab.close();
    }
  });
});
