import { describe, expect, it } from 'vitest';
import { rankedLists, rankedListsFromFeatures, RankedListsBuilder, worstQueriesFirst } from '../../src/engine/eval/ranked-lists';
import { evaluateRanking } from '../../src/engine/eval/ranking';
import { distanceMatrix, type FeatureMatrix } from '../../src/engine/eval/distance';
import { isLabError } from '../../src/engine/errors';
import { Prng } from '../../src/engine/util/prng';

/**
 * Two queries, five gallery items, distances by hand.
 *   q0: pid 1, cam 1      q1: pid 2, cam 2
 *   g0: pid 1 cam 1 (same identity and camera as q0: removed for q0)
 *   g1: pid 2 cam 1
 *   g2: pid 1 cam 2
 *   g3: pid -1 cam 3 (junk: removed for everyone)
 *   g4: pid 2 cam 2 (same identity and camera as q1: removed for q1)
 * q0 distances [0.1, 0.2, 0.4, 0.05, 0.3]: sorted g3 g0 g1 g4 g2; cleaned g1 g4 g2 -> the
 *   match g2 at rank 3, AP 1/3.
 * q1 distances [0.5, 0.1, 0.2, 0.3, 0.05]: sorted g4 g1 g2 g3 g0; cleaned g1 g2 g0 -> the
 *   match g1 at rank 1, AP 1.
 */
const TINY = {
  distmat: Float32Array.from([0.1, 0.2, 0.4, 0.05, 0.3, 0.5, 0.1, 0.2, 0.3, 0.05]),
  queryIds: [1, 2],
  queryCams: [1, 2],
  galleryIds: [1, 2, 1, -1, 2],
  galleryCams: [1, 1, 2, 3, 2],
};

const f32 = (x: number) => Math.fround(x);

describe('rankedLists: hand-worked cases', () => {
  it('drops junk and same-identity-same-camera items, flags true matches, gives AP and first-match rank', () => {
    const r = rankedLists({ ...TINY, topK: 10 });
    expect(r.lists).toHaveLength(2);
    expect(r.lists[0]).toEqual({
      query: 0,
      top: [
        { index: 1, distance: f32(0.2), match: false },
        { index: 4, distance: f32(0.3), match: false },
        { index: 2, distance: f32(0.4), match: true },
      ],
      ap: 1 / 3,
      firstMatchRank: 3,
    });
    expect(r.lists[1]).toEqual({
      query: 1,
      top: [
        { index: 1, distance: f32(0.1), match: true },
        { index: 2, distance: f32(0.2), match: false },
        { index: 0, distance: f32(0.5), match: false },
      ],
      ap: 1,
      firstMatchRank: 1,
    });
    expect(r.mAP).toBeCloseTo((1 / 3 + 1) / 2, 12);
    expect(r.numValidQueries).toBe(2);
  });

  it('keeps only the first k of the cleaned list; AP and first-match rank still see the whole list', () => {
    const r = rankedLists({ ...TINY, topK: 2 });
    expect(r.lists[0].top.map((e) => e.index)).toEqual([1, 4]);
    expect(r.lists[0].top.some((e) => e.match)).toBe(false);
    expect(r.lists[0].firstMatchRank).toBe(3);
    expect(r.lists[0].ap).toBeCloseTo(1 / 3, 12);
    expect(r.lists[1].top.map((e) => e.index)).toEqual([1, 2]);
  });

  it('breaks distance ties by gallery index, as the evaluation does', () => {
    const r = rankedLists({ distmat: Float32Array.from([0.5, 0.5, 0.5]), queryIds: [1], queryCams: [1], galleryIds: [2, 1, 1], galleryCams: [2, 2, 3], topK: 3 });
    expect(r.lists[0].top.map((e) => e.index)).toEqual([0, 1, 2]);
    expect(r.lists[0].ap).toBeCloseTo((1 / 2 + 2 / 3) / 2, 12);
  });

  it('distractors (pid 0) stay in the list and never match; a skipped query has AP NaN and rank 0', () => {
    const r = rankedLists({
      // q0: pid 3 cam 1, whose only gallery shot is from cam 1 -> skipped. q1: a distractor query.
      // q2: pid 1 cam 2, so g0 (pid 1 cam 1) is a valid match.
      distmat: Float32Array.from([0.3, 0.1, 0.2, 0.3, 0.1, 0.2, 0.3, 0.1, 0.2]),
      queryIds: [3, 0, 1],
      queryCams: [1, 1, 2],
      galleryIds: [1, 0, 3],
      galleryCams: [1, 2, 1],
      topK: 5,
    });
    // q0: sorted g1 g2 g0; g2 (pid 3, cam 1) is removed.
    expect(r.lists[0].top.map((e) => [e.index, e.match])).toEqual([[1, false], [0, false]]);
    expect(Number.isNaN(r.lists[0].ap)).toBe(true);
    expect(r.lists[0].firstMatchRank).toBe(0);
    // q1 (pid 0): the distractor g1 is not its match.
    expect(r.lists[1].top.map((e) => [e.index, e.match])).toEqual([[1, false], [2, false], [0, false]]);
    expect(Number.isNaN(r.lists[1].ap)).toBe(true);
    expect(r.lists[2].top.map((e) => [e.index, e.match])).toEqual([[1, false], [2, false], [0, true]]);
    expect(r.lists[2].ap).toBeCloseTo(1 / 3, 12);
    expect(r.mAP).toBeCloseTo(1 / 3, 12);
    expect(r.numValidQueries).toBe(1);
  });

  it('rows may arrive in chunks and in any order', () => {
    const b = new RankedListsBuilder({ ...TINY, topK: 10 });
    b.addRows(1, TINY.distmat.subarray(5));
    b.addRows(0, TINY.distmat.subarray(0, 5));
    expect(b.finish()).toEqual(rankedLists({ ...TINY, topK: 10 }));
  });

  it('refuses bad input with a LabError sentence', () => {
    const code = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return isLabError(e) ? (e as { code: string }).code : 'not a LabError';
      }
      return 'no error';
    };
    expect(code(() => rankedLists({ ...TINY, topK: 0 }))).toBe('bad-argument');
    expect(code(() => rankedLists({ ...TINY, topK: 1.5 }))).toBe('bad-argument');
    expect(code(() => rankedLists({ ...TINY, distmat: TINY.distmat.subarray(1), topK: 3 }))).toBe('bad-argument');
    expect(code(() => rankedLists({ ...TINY, queryCams: [1], topK: 3 }))).toBe('bad-argument');
    const nan = TINY.distmat.slice();
    nan[7] = NaN;
    expect(() => rankedLists({ ...TINY, distmat: nan, topK: 3 })).toThrowError(/NaN at query 1, gallery item 2/);
    const b = new RankedListsBuilder({ ...TINY, topK: 3 });
    b.addRows(0, TINY.distmat.subarray(0, 5));
    expect(() => b.finish()).toThrowError(/Query 1 has not been ranked/);
  });
});

describe('worstQueriesFirst', () => {
  it('orders by AP ascending, ties by query index, skipped queries last', () => {
    expect(worstQueriesFirst([0.5, NaN, 0.2, 0.5, 1, NaN, 0])).toEqual([6, 2, 0, 3, 4, 1, 5]);
    expect(worstQueriesFirst([])).toEqual([]);
  });

  it('on the hand-worked case puts q0 (AP 1/3) before q1 (AP 1)', () => {
    const r = rankedLists({ ...TINY, topK: 10 });
    expect(worstQueriesFirst(r.lists.map((l) => l.ap))).toEqual([0, 1]);
  });
});

/** Random labels with junk, distractors, repeated cameras. */
function randomCase(seed: number, nq: number, ng: number, dim: number) {
  const rng = new Prng(seed);
  const ids = 8;
  const galleryIds = Array.from({ length: ng }, () => (rng.bool(0.1) ? -1 : rng.bool(0.1) ? 0 : rng.int(1, ids + 1)));
  const galleryCams = Array.from({ length: ng }, () => rng.int(1, 4));
  const queryIds = Array.from({ length: nq }, () => rng.int(1, ids + 1));
  const queryCams = Array.from({ length: nq }, () => rng.int(1, 4));
  const feats = (rows: number): FeatureMatrix => ({ data: Float32Array.from({ length: rows * dim }, () => rng.normal()), rows, dim });
  return { queryIds, queryCams, galleryIds, galleryCams, q: feats(nq), g: feats(ng) };
}

describe('rankedLists agrees with evaluateRanking on random data', () => {
  it('per-query AP, first-match rank and mAP; the full list is the cleaned, sorted gallery', async () => {
    for (const seed of [1, 2, 3]) {
      const c = randomCase(seed, 40, 90, 6);
      const distmat = await distanceMatrix(c.q, c.g, { impl: 'js' });
      const labels = { queryIds: c.queryIds, queryCams: c.queryCams, galleryIds: c.galleryIds, galleryCams: c.galleryCams };
      const ev = evaluateRanking({ ...labels, distmat, maxRank: 10 });
      const full = rankedLists({ ...labels, distmat, topK: 90 });
      expect(full.mAP).toBeCloseTo(ev.mAP, 12);
      expect(full.numValidQueries).toBe(ev.numValidQueries);
      expect(full.numValidQueries).toBeGreaterThan(20);
      for (let qi = 0; qi < 40; qi++) {
        const l = full.lists[qi];
        const qid = c.queryIds[qi];
        const qcam = c.queryCams[qi];
        if (Number.isNaN(ev.ap[qi])) expect(Number.isNaN(l.ap)).toBe(true);
        else expect(l.ap).toBe(ev.ap[qi]);
        expect(l.firstMatchRank).toBe(ev.firstMatchRank[qi]);
        // Independent checks on the list itself.
        const kept = c.galleryIds.map((gid, g) => g).filter((g) => c.galleryIds[g] !== -1 && !(c.galleryIds[g] === qid && c.galleryCams[g] === qcam));
        expect(l.top.map((e) => e.index).sort((a, b) => a - b)).toEqual(kept);
        for (let i = 1; i < l.top.length; i++) {
          const [a, b] = [l.top[i - 1], l.top[i]];
          expect(a.distance < b.distance || (a.distance === b.distance && a.index < b.index)).toBe(true);
        }
        for (const e of l.top) {
          expect(e.distance).toBe(distmat[qi * 90 + e.index]);
          expect(e.match).toBe(c.galleryIds[e.index] === qid);
        }
        // AP recomputed from the flags: the mean precision at each match.
        const hits = l.top.map((e) => e.match);
        const m = hits.filter(Boolean).length;
        if (m > 0) {
          let found = 0;
          let sum = 0;
          hits.forEach((h, i) => {
            if (h) sum += ++found / (i + 1);
          });
          expect(l.ap).toBeCloseTo(sum / m, 12);
          expect(l.firstMatchRank).toBe(hits.indexOf(true) + 1);
        }
      }
      // A top-10 list is the prefix of the full one, with the same AP.
      const top10 = rankedLists({ ...labels, distmat, topK: 10 });
      top10.lists.forEach((l, qi) => {
        expect(l.top).toEqual(full.lists[qi].top.slice(0, 10));
        expect(Object.is(l.ap, full.lists[qi].ap)).toBe(true);
      });
      // Worst-first by the lists' AP agrees with sorting the evaluation's per-query AP.
      const order = worstQueriesFirst(top10.lists.map((l) => l.ap));
      const valid = order.filter((q) => !Number.isNaN(ev.ap[q]));
      expect(valid).toHaveLength(ev.numValidQueries);
      for (let i = 1; i < valid.length; i++) expect(ev.ap[valid[i - 1]] <= ev.ap[valid[i]]).toBe(true);
      expect(order.slice(valid.length).every((q) => Number.isNaN(ev.ap[q]))).toBe(true);
    }
  });

  it('from features in query-row chunks gives the same lists as from the whole matrix', async () => {
    const c = randomCase(7, 25, 60, 5);
    const labels = { queryIds: c.queryIds, queryCams: c.queryCams, galleryIds: c.galleryIds, galleryCams: c.galleryCams, topK: 10 };
    const distmat = await distanceMatrix(c.q, c.g, { impl: 'js' });
    const whole = rankedLists({ ...labels, distmat });
    const chunked = await rankedListsFromFeatures(c.q, c.g, labels, { impl: 'js', chunkRows: 7 });
    expect(chunked).toEqual(whole);
    let polls = 0;
    await expect(rankedListsFromFeatures(c.q, c.g, labels, { impl: 'js', chunkRows: 7, shouldCancel: () => ++polls > 1 })).rejects.toMatchObject({ code: 'cancelled' });
    await expect(rankedListsFromFeatures(c.q, { ...c.g, rows: 59, data: c.g.data.subarray(0, 59 * 5) }, labels, { impl: 'js' })).rejects.toMatchObject({ code: 'bad-argument' });
  });
});
