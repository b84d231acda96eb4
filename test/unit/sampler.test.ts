/** P×K identity sampler: batch structure, epoch coverage, resampling, determinism, state. */
import { describe, expect, it } from 'vitest';
import { PKSampler } from '../../src/engine/train/sampler';
import { isLabError } from '../../src/engine/errors';

// pids: 1 has 6 images, 2 has 4, 3 has 2 (fewer than K), 4 has 5; plus junk (-1) and a distractor (0).
const PIDS = [1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 4, 4, 4, 4, 4, -1, 0];

describe('PKSampler', () => {
  it('builds batches of P distinct identities with K images each, never junk or distractors', () => {
    const s = new PKSampler(PIDS, 2, 4, 1);
    for (let b = 0; b < 20; b++) {
      const batch = s.next();
      expect(batch).toHaveLength(8);
      const first = PIDS[batch[0]];
      const second = PIDS[batch[4]];
      expect(first).not.toBe(second);
      for (let i = 0; i < 4; i++) expect(PIDS[batch[i]]).toBe(first);
      for (let i = 4; i < 8; i++) expect(PIDS[batch[i]]).toBe(second);
      for (const i of batch) expect(PIDS[i]).toBeGreaterThan(0);
    }
  });

  it('covers every identity once per epoch in chunks of K (floor(n/K) chunks, at least 1)', () => {
    // Chunks: pid1 -> 1 (6 images), pid2 -> 1, pid3 -> 1 (resampled to 4), pid4 -> 1: 4 chunks,
    // P = 2: two batches per epoch, each identity exactly once.
    const s = new PKSampler(PIDS, 2, 4, 9);
    expect(s.batchesPerEpoch).toBe(2);
    const seen = [...s.next(), ...s.next()].map((i) => PIDS[i]);
    for (const pid of [1, 2, 3, 4]) expect(seen.filter((p) => p === pid)).toHaveLength(4);
    expect(s.epoch).toBe(0);
    s.next();
    expect(s.epoch).toBe(1);
  });

  it('resamples identities with fewer than K images with replacement, and uses distinct images otherwise', () => {
    const s = new PKSampler(PIDS, 4, 4, 3);
    const batch = s.next();
    const byPid = new Map<number, number[]>();
    for (const i of batch) byPid.set(PIDS[i], [...(byPid.get(PIDS[i]) ?? []), i]);
    expect([...byPid.keys()].sort()).toEqual([1, 2, 3, 4]);
    expect(byPid.get(3)!.every((i) => i === 10 || i === 11)).toBe(true);
    for (const pid of [1, 2, 4]) expect(new Set(byPid.get(pid)).size).toBe(4);
  });

  it('is deterministic for a seed, differs across seeds, and resumes exactly from its state', () => {
    const a = new PKSampler(PIDS, 2, 2, 42);
    const b = new PKSampler(PIDS, 2, 2, 42);
    const c = new PKSampler(PIDS, 2, 2, 43);
    const seqA = Array.from({ length: 12 }, () => a.next());
    const seqB = Array.from({ length: 12 }, () => b.next());
    const seqC = Array.from({ length: 12 }, () => c.next());
    expect(seqB).toEqual(seqA);
    expect(seqC).not.toEqual(seqA);

    const d = new PKSampler(PIDS, 2, 2, 42);
    for (let i = 0; i < 7; i++) d.next();
    const state = d.getState();
    const rest = Array.from({ length: 5 }, () => d.next());
    const e = new PKSampler(PIDS, 2, 2, 1);
    e.setState(state);
    expect(Array.from({ length: 5 }, () => e.next())).toEqual(rest);
    expect(rest).toEqual(seqA.slice(7));
  });

  it('rejects a training set with fewer than P identities with a LabError', () => {
    let err: unknown;
    try {
      new PKSampler([1, 1, 2, 2, 0, -1], 3, 2, 1);
    } catch (e) {
      err = e;
    }
    expect(isLabError(err, 'bad-dataset')).toBe(true);
    expect((err as Error).message).toMatch(/at least P=3 identities.*has 2/);
  });
});
