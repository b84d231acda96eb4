import { describe, expect, it } from 'vitest';
import { isCachedCell, isSnapshot } from '../../src/workers/reproduce-cache';

const snap = { macs: 1e9, params: 1e6, mAP: 0.3, rank1: 0.5, rank5: 0.7 };
const cell = {
  text: 'row=li seed=1',
  result: { scenario: 'prune-finetune', scenarioNumber: 1, seed: 1, config: {}, steps: [], imagesSeen: 64, trainSteps: 2, trainingIdentities: [1, 2], before: snap, after: snap },
};

describe('stored reproduction cells', () => {
  it('a cell as the engine stores it is used; a damaged one counts as missing (it runs again)', () => {
    expect(isSnapshot(snap)).toBe(true);
    expect(isCachedCell(cell)).toBe(true);
    for (const bad of [
      null,
      'cell',
      { ...cell, text: 3 },
      { ...cell, result: null },
      { ...cell, result: { ...cell.result, after: { ...snap, mAP: '0.3' } } },
      { ...cell, result: { ...cell.result, before: { ...snap, macs: NaN } } },
      { ...cell, result: { ...cell.result, steps: undefined } },
      { ...cell, result: { ...cell.result, trainingIdentities: {} } },
    ]) {
      expect(isCachedCell(bad)).toBe(false);
    }
    expect(isSnapshot({ ...snap, rank5: undefined })).toBe(false);
  });
});
