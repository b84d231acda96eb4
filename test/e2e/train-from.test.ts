/**
 * "Fine-tune the last stages only" in the page, real Chromium, tiny random ResNet-18 and
 * SynthReID-XS: the fine-tune panel's "Train" choice is carried by the URL (tfrom), the worker
 * fine-tunes with it, and the choice is hidden while PTL (which reads every stage) is on.
 */
import { describe, expect, it } from 'vitest';
import { openLab, chartPoints, idle, useLabServer } from './browser';

const h = useLabServer();

describe('fine-tuning layerN onwards in the page', () => {
  it('the URL picks the stage, a fine-tune runs with it, PTL hides the choice', async () => {
    const lab = await openLab(h.lb, h.server.origin, '?backend=wasm&model=tiny&tier=XS&tfrom=4');
    try {
      await expect.poll(() => chartPoints(lab), { timeout: 180_000, interval: 250 }).toBeGreaterThanOrEqual(1);
      await idle(lab);
      const select = lab.page.getByTestId('train-from');
      expect(await select.inputValue()).toBe('4');
      await select.selectOption('3');
      expect(new URL(lab.page.url()).searchParams.get('tfrom')).toBe('3');
      await lab.page.getByTestId('steps').fill('2');
      await lab.page.getByTestId('finetune').click();
      await expect.poll(() => chartPoints(lab), { timeout: 180_000, interval: 250 }).toBe(2);
      await idle(lab);
      expect(await lab.page.getByTestId('lineage').textContent()).toContain('fine-tuned 2 steps');
      await lab.page.getByTestId('ptl').check();
      expect(await lab.page.getByTestId('train-from').count()).toBe(0);
    } finally {
      await lab.close();
    }
  });
});
