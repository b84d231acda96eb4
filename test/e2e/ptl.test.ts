/**
 * PTL in the lab page, real Chromium, tiny random ResNet-18 and SynthReID-XS: the fine-tune
 * panel's PTL switch (carried by the URL) fine-tunes with the side branch; the outcome shows the
 * branch's MACs and params apart from the backbone's, equal to the engine's ptlCost for this
 * model computed here in Node; the run is marked PTL and its cost counts backbone + branch.
 */
import { describe, expect, it } from 'vitest';
import { buildSpec } from '../../src/engine/model/spec';
import { formatMacs, modelCost } from '../../src/engine/cost/macs';
import { ptlCost } from '../../src/engine/ptl/ptl-cost';
import { openLab, screenshot, chartPoints, idle, useLabServer } from './browser';

const h = useLabServer();

describe('PTL fine-tuning in the page', () => {
  it('switch on, fine-tune 3 steps: branch cost shown apart, run marked PTL and costed with the branch', async () => {
    const lab = await openLab(h.lb, h.server.origin, '?backend=wasm&model=tiny&tier=XS');
    try {
      await expect.poll(() => chartPoints(lab), { timeout: 180_000, interval: 250 }).toBeGreaterThanOrEqual(1);
      await idle(lab);
      const tensorsBefore = await lab.page.evaluate(() => window.__lab!.numTensors());

      // The branch's cost, as the engine counts it for this model with the default settings.
      const spec = buildSpec({ depth: 18, widthMultiplier: 0.125, inputHeight: 64, inputWidth: 32 });
      const want = ptlCost(spec);
      const backbone = modelCost(spec);
      expect(want.macs).toBeGreaterThan(0);

      await lab.page.getByTestId('ptl').check();
      expect(new URL(lab.page.url()).searchParams.get('ptl')).toBe('1');
      // Before training: what the branch will cost at inference.
      await expect.poll(() => lab.page.getByTestId('ptl-preview').getAttribute('data-branch-macs'), { timeout: 10_000 }).toBe(String(want.macs));
      await lab.page.getByTestId('steps').fill('3');
      await lab.page.getByTestId('finetune').click();
      await expect.poll(() => chartPoints(lab), { timeout: 180_000, interval: 250 }).toBe(2);
      await idle(lab);

      const cost = lab.page.getByTestId('ptl-cost');
      expect(Number(await cost.getAttribute('data-branch-macs'))).toBe(want.macs);
      expect(Number(await cost.getAttribute('data-branch-params'))).toBe(want.params);
      expect(await lab.page.getByTestId('ptl-branch-row').textContent()).toContain(formatMacs(want.macs));

      const rows = lab.page.getByTestId('run-row');
      const marks = await rows.evaluateAll((rs) => rs.map((r) => [r.getAttribute('data-kind'), r.getAttribute('data-ptl')]).sort());
      expect(marks).toEqual([
        ['baseline', 'false'],
        ['fine-tuned', 'true'],
      ]);
      const ptlRow = lab.page.locator('[data-testid="run-row"][data-ptl="true"]');
      expect(await ptlRow.textContent()).toContain('PTL');
      // The run's MACs column counts backbone + branch (the model is evaluated with the branch).
      expect(await ptlRow.textContent()).toContain(formatMacs(backbone.macs + want.macs));
      expect(await lab.page.getByTestId('lineage').textContent()).toContain('fine-tuned 3 steps');
      await screenshot(lab.page, 'ptl-finetuned');

      // Reset drops the branch with the fine-tuned model: the worker's tensors are back where they were.
      await lab.page.getByTestId('reset').click();
      await idle(lab);
      await expect.poll(() => lab.page.evaluate(() => window.__lab!.numTensors()), { timeout: 10_000 }).toBe(tensorsBefore);
      expect(await lab.page.getByTestId('ptl-cost').count()).toBe(0);
      expect(lab.errors).toEqual([]);
    } finally {
      await lab.close();
    }
  });
});
