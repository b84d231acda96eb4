/** The results chart's axis ticks (src/ui/ticks.ts): one run no longer gives six identical labels. */
import { describe, expect, it } from 'vitest';
import { niceTicks } from '../../src/ui/ticks';
import { formatMacs } from '../../src/engine/cost/macs';

describe('niceTicks', () => {
  it('one run: a padded domain around it and distinct labels', () => {
    const t = niceTicks([258_146_304], formatMacs)!;
    const labels = t.ticks.map(formatMacs);
    expect(new Set(labels).size).toBe(labels.length);
    expect(labels.length).toBeGreaterThanOrEqual(3);
    expect(t.domain[0]).toBeLessThan(258_146_304);
    expect(t.domain[1]).toBeGreaterThan(258_146_304);
    expect(t.ticks[0]).toBe(t.domain[0]);
    expect(t.ticks[t.ticks.length - 1]).toBe(t.domain[1]);
  });

  it('nice steps spanning the data', () => {
    expect(niceTicks([12.3, 31.7], (v) => v.toFixed(1))!.ticks).toEqual([10, 15, 20, 25, 30, 35]);
    expect(niceTicks([0.5, 0.9], (v) => v.toFixed(2))!.ticks).toEqual([0.5, 0.6, 0.7, 0.8, 0.9]);
  });

  it('drops ticks whose labels would repeat, and gives up on no data', () => {
    const t = niceTicks([1.0, 1.04], (v) => v.toFixed(0))!;
    const labels = t.ticks.map((v) => v.toFixed(0));
    expect(new Set(labels).size).toBe(labels.length);
    expect(niceTicks([], String)).toBeNull();
    expect(niceTicks([NaN], String)).toBeNull();
  });
});
