/**
 * The layer sensitivity heat map in real Chromium, tiny random ResNet-18 and SynthReID-XS: a
 * scan at 2 rates draws groups x 2 cells (the group count asked of the worker independently),
 * every value a percentage in [0, 100], rows named from the field; a second, longer scan is
 * cancelled part-way and leaves no tensor behind and the first heat map in place.
 */
import { describe, expect, it } from 'vitest';
import { openLab, screenshot, chartPoints, idle, useLabServer } from './browser';

const h = useLabServer();

describe('layer sensitivity scan', () => {
  it('2 rates: groups x 2 cells in [0, 100]; a cancelled scan leaves no tensors', async () => {
    const lab = await openLab(h.lb, h.server.origin, '?backend=wasm&model=tiny&tier=XS');
    try {
      await expect.poll(() => chartPoints(lab), { timeout: 180_000, interval: 250 }).toBeGreaterThanOrEqual(1);
      await idle(lab);
      const tensorsBefore = await lab.page.evaluate(() => window.__lab!.numTensors());

      await lab.page.getByTestId('sens-rates').fill('0.25,0.5');
      await lab.page.getByTestId('sens-queries').fill('0');
      await lab.page.getByTestId('sens-ids').fill('0');
      expect(new URL(lab.page.url()).searchParams.get('srates')).toBe('0.25,0.5');
      // The worker's own count of the groups (ResNet-18: one inner group per basic block).
      const plan = await lab.page.evaluate(() => window.__lab!.sensitivityPlan({ criterion: 'l1', scope: 'inner', rates: [0.25, 0.5], maxQueries: 0, seed: 1 }));
      expect(plan.groups).toBe(8);
      expect(plan.evaluations).toBe(1 + 8 * 2);
      await expect.poll(() => lab.page.getByTestId('sens-plan').getAttribute('data-evaluations')).toBe(String(plan.evaluations));

      await lab.page.getByTestId('sens-run').click();
      await lab.page.getByTestId('sens-heatmap').waitFor({ timeout: 180_000 });
      await idle(lab);
      const map = lab.page.getByTestId('sens-heatmap');
      expect(Number(await map.getAttribute('data-groups'))).toBe(plan.groups);
      expect(Number(await map.getAttribute('data-rates'))).toBe(2);
      const cells = lab.page.getByTestId('sens-cell');
      expect(await cells.count()).toBe(plan.groups * 2);
      const values = (await cells.evaluateAll((cs) => cs.map((c) => Number(c.getAttribute('data-value')))));
      for (const v of values) {
        expect(v).toBeGreaterThanOrEqual(0);
        expect(v).toBeLessThanOrEqual(100);
      }
      const names = await lab.page.getByTestId('sens-group').allTextContents();
      expect(names[0]).toMatch(/^layer1\.0 conv1 \(\d+\)$/);
      expect(await cells.first().getAttribute('title')).toMatch(/points (below|above) the unpruned model/);
      await screenshot(lab.page, 'sensitivity-heatmap');

      // A longer scan, cancelled once it has started evaluating.
      await lab.page.getByTestId('sens-rates').fill('0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9');
      await lab.page.getByTestId('sens-run').click();
      await expect.poll(async () => Number(/Evaluation (\d+) of 73/.exec((await lab.page.getByTestId('sens-progress').textContent()) ?? '')?.[1] ?? 0), { timeout: 60_000, interval: 50 }).toBeGreaterThanOrEqual(2);
      await lab.page.getByTestId('sens-cancel').click();
      await idle(lab);
      expect((await lab.page.getByTestId('banner-notice').allTextContents()).some((t) => t.includes('Sensitivity scan was cancelled.'))).toBe(true);
      expect(await lab.page.getByTestId('sens-cell').count()).toBe(plan.groups * 2);
      await expect.poll(() => lab.page.evaluate(() => window.__lab!.numTensors()), { timeout: 10_000 }).toBe(tensorsBefore);
      expect(lab.errors).toEqual([]);
    } finally {
      await lab.close();
    }
  });
});
