/**
 * Sensitivity analysis: one group pruned at a time; each cell matches an independent evaluation
 * of the physically pruned model; cancellation and bad rates; no tensor leaks.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/engine/backend/init';
import { CancelledError } from '../../src/engine/errors';
import { evaluateModel } from '../../src/engine/eval/evaluate';
import { prunableGroups } from '../../src/engine/prune/groups';
import { keepTopScores } from '../../src/engine/prune/keep-set';
import { pruneModel } from '../../src/engine/prune/surgery';
import { sensitivity } from '../../src/engine/prune/sensitivity';
import { syntheticSplit } from './train-fixtures';
import { H, W, normCriterion, tinyModel } from './prune-fixtures';

beforeAll(async () => {
  await initBackend('wasm');
});

const all = syntheticSplit({ ids: 5, perId: 3, height: H, width: W, seed: 21, firstPid: 100 });
// First image of each identity is a query (camera 1), the rest gallery (cameras 2, 3).
const qi = [0, 3, 6, 9, 12];
const pick = (idx: number[]) => ({ ...all, images: new Uint8Array(idx.flatMap((i) => Array.from(all.images.subarray(i * H * W * 3, (i + 1) * H * W * 3)))), count: idx.length, pids: Int32Array.from(idx.map((i) => all.pids[i])), camids: Int32Array.from(idx.map((i) => all.camids[i])) });
const evaluation = { query: pick(qi), gallery: pick([...Array(15).keys()].filter((i) => !qi.includes(i))) };

describe('sensitivity', () => {
  it('fills a groups x rates matrix whose cells equal evaluating the physically pruned model', async () => {
    const model = tinyModel(18, 5);
    const base = tf.memory().numTensors;
    const crit = normCriterion(1);
    const groups = prunableGroups(model.spec, 'inner').slice(0, 3).map((g) => g.id);
    const seen: string[] = [];
    const r = await sensitivity(model, { criterion: crit, rates: [0.25, 0.75], groups, evaluation, onProgress: (d, t, c) => seen.push(`${d}/${t} ${c.group}@${c.rate}`) });
    expect(r.groups.map((g) => g.id)).toEqual(groups);
    expect(r.mAP).toHaveLength(3);
    expect(r.mAP.every((row) => row.length === 2)).toBe(true);
    expect(seen).toHaveLength(7);
    expect(seen[0]).toBe('1/7 @0');
    const ref = await evaluateModel(model, evaluation);
    expect(r.baseline.mAP).toBeCloseTo(ref.mAP, 6);

    // Independent check of one cell: surgery on that group alone, then a plain evaluation.
    const g = prunableGroups(model.spec, 'inner').find((x) => x.id === groups[1])!;
    const scores = await crit.score({ model, groups: [g], seed: 1 });
    const kept = keepTopScores(scores.get(g.id)!, g.channels - Math.round(0.75 * g.channels));
    expect(r.kept[1][1]).toBe(kept.length);
    const pruned = await pruneModel(model, new Map([[g.id, kept]]));
    const e = await evaluateModel(pruned, evaluation);
    expect(r.mAP[1][1]).toBeCloseTo(e.mAP, 5);
    expect(r.rank1[1][1]).toBeCloseTo(e.rank1, 6);
    expect(r.macs[1][1]).toBeLessThan(r.baseline.macs);
    pruned.dispose();
    expect(tf.memory().numTensors).toBe(base);
    model.dispose();
  });

  it('stops on cancel with a CancelledError and releases its tensors; rejects bad rates', async () => {
    const model = tinyModel(18, 5);
    const base = tf.memory().numTensors;
    const signal = { aborted: false };
    await expect(
      sensitivity(model, { criterion: normCriterion(1), rates: [0.5], evaluation, signal, onProgress: (d) => void (d >= 3 && (signal.aborted = true)) }),
    ).rejects.toBeInstanceOf(CancelledError);
    expect(tf.memory().numTensors).toBe(base);
    await expect(sensitivity(model, { criterion: normCriterion(1), rates: [0.5, 1], evaluation })).rejects.toThrow('Every sensitivity rate must be above 0 and below 1; found 1.');
    await expect(sensitivity(model, { criterion: normCriterion(1), rates: [], evaluation })).rejects.toThrow(/at least one pruning rate/);
    model.dispose();
  });
});
