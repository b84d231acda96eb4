import { describe, expect, it } from 'vitest';
import { quarantineNotice, runProblem } from '../../src/ui/run-record';
import type { Run } from '../../src/ui/runs';

const good: Run = {
  id: 'baseline|tiny|random|SynthReID-XS', createdAt: 1, kind: 'baseline', model: 'tiny', modelSource: 'random', dataset: 'SynthReID-XS', backend: 'wasm',
  criterion: null, criterionName: null, strategy: null, rate: null, scope: null, ranking: null, macs: 1e6, params: 1e5, latencyMs: 2.5,
  mAP: 0.1, rank1: 0.2, rank5: 0.3, fineTuneSteps: 0,
};

describe('stored run records', () => {
  it('accepts a run as the lab writes it, and older runs without the optional PTL and card fields', () => {
    expect(runProblem(good)).toBeNull();
    expect(runProblem({ ...good, latencyMs: null, ptl: true, branchMacs: 10, branchParams: null, source: 'card' })).toBeNull();
    expect(runProblem({ ...good, kind: 'pruned', criterion: 'l1', criterionName: 'L1', strategy: 'once', rate: 0.5, scope: 'inner', ranking: 'local' })).toBeNull();
  });

  it('names the first bad field of every kind of damage', () => {
    const cases: [unknown, string][] = [
      [{ ...good, latencyMs: undefined }, 'latencyMs is missing, not a number of milliseconds or null'],
      [{ ...good, latencyMs: '12 ms' }, 'latencyMs is "12 ms", not a number of milliseconds or null'],
      [{ ...good, mAP: NaN }, 'mAP is NaN, not a fraction from 0 to 1'],
      [{ ...good, rank1: 87 }, 'rank1 is 87, not a fraction from 0 to 1'],
      [{ ...good, macs: -1 }, 'macs is -1, not a number of MACs'],
      [{ ...good, kind: 'odd' }, 'kind is "odd", not baseline, pruned or fine-tuned'],
      [{ ...good, criterion: 3 }, 'criterion is 3, not a text or null'],
      [{ ...good, fineTuneSteps: 1.5 }, 'fineTuneSteps is 1.5, not a whole number of steps'],
      [{ ...good, ptl: 'yes' }, 'ptl is "yes", not true or false'],
      [{ ...good, id: '' }, 'id is "", not a non-empty text'],
      [null, 'it is null, not a run record'],
      ['run', 'it is "run", not a run record'],
      [[good], 'it is a list, not a run record'],
    ];
    for (const [value, why] of cases) expect(runProblem(value)).toBe(why);
  });

  it('says how many runs were set aside, with the first reason, and nothing when none were', () => {
    expect(quarantineNotice([])).toBeNull();
    expect(quarantineNotice([{ id: 'a', reason: 'mAP is NaN, not a fraction from 0 to 1' }])).toMatch(/^1 stored run from an earlier visit could not be read and was set aside \(run a: mAP is NaN/);
    expect(quarantineNotice([{ id: 'a', reason: 'x' }, { id: 'b', reason: 'y' }])).toMatch(/^2 stored runs .* were set aside \(run a: x; …\); the other runs are shown/);
  });
});
