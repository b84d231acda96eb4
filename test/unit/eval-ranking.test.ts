import { describe, expect, it } from 'vitest';
import { evaluateRanking, RankingAccumulator, type RankingInput } from '../../src/engine/eval/ranking';
import { argsortFloat32 } from '../../src/engine/eval/argsort';
import { isLabError } from '../../src/engine/errors';
import { Prng } from '../../src/engine/util/prng';

/** One query against a gallery given as [pid, cam, distance] rows. */
function oneQuery(qid: number, qcam: number, gallery: [number, number, number][], extra: Partial<RankingInput> = {}) {
  return evaluateRanking({
    distmat: Float32Array.from(gallery.map((g) => g[2])),
    queryIds: [qid],
    queryCams: [qcam],
    galleryIds: gallery.map((g) => g[0]),
    galleryCams: gallery.map((g) => g[1]),
    maxRank: 5,
    ...extra,
  });
}

/** Literal port of torchreid's eval_market1501 loop (plus junk removal), with a comparator sort. */
function reference(input: RankingInput) {
  const nq = input.queryIds.length;
  const ng = input.galleryIds.length;
  const aps: number[] = [];
  const inps: number[] = [];
  const cmcSum = new Array(input.maxRank).fill(0);
  for (let q = 0; q < nq; q++) {
    const row = Array.from(input.distmat.subarray(q * ng, (q + 1) * ng));
    const order = row.map((_, i) => i).sort((a, b) => row[a] - row[b] || a - b);
    const raw: number[] = [];
    for (const g of order) {
      const gid = input.galleryIds[g];
      if (gid === -1) continue;
      if (gid === input.queryIds[q] && input.galleryCams[g] === input.queryCams[q]) continue;
      raw.push(gid === input.queryIds[q] ? 1 : 0);
    }
    if (!(input.queryIds[q] > 0) || !raw.some((x) => x === 1)) continue;
    let cum = 0;
    const cmc = raw.map((x) => (cum += x));
    const maxPos = raw.lastIndexOf(1);
    inps.push(cmc[maxPos] / (maxPos + 1));
    for (let k = 0; k < input.maxRank; k++) cmcSum[k] += Math.min(1, cmc[Math.min(k, cmc.length - 1)]);
    const numRel = cum;
    let s = 0;
    raw.forEach((x, i) => { if (x) s += cmc[i] / (i + 1); });
    aps.push(s / numRel);
  }
  const mean = (a: number[]) => a.reduce((x, y) => x + y, 0) / a.length;
  return { mAP: mean(aps), mINP: mean(inps), cmc: cmcSum.map((c) => c / aps.length), numValid: aps.length };
}

describe('evaluateRanking: hand-worked cases', () => {
  // Query: pid 1, camera 1. Sorted gallery: junk (0.05), same-cam match (0.1, removed),
  // non-match (0.2), match (0.3), distractor (0.4), match (0.5).
  // Cleaned list: [non, match, distractor, match] -> matches at ranks 2 and 4.
  const gallery: [number, number, number][] = [
    [1, 1, 0.1], [2, 2, 0.2], [1, 2, 0.3], [-1, 2, 0.05], [0, 3, 0.4], [1, 3, 0.5],
  ];

  it('removes same-camera matches and junk, keeps distractors as non-matches', () => {
    const r = oneQuery(1, 1, gallery);
    expect(r.numValidQueries).toBe(1);
    expect(r.firstMatchRank[0]).toBe(2);
    expect(r.ap[0]).toBeCloseTo((1 / 2 + 2 / 4) / 2, 12); // 0.5
    expect(r.inp[0]).toBeCloseTo(2 / 4, 12);
    expect(Array.from(r.cmc)).toEqual([0, 1, 1, 1, 1]);
    expect(r.mAP).toBeCloseTo(0.5, 12);
  });

  it('computes the official Market-1501 MATLAB AP as a trapezoid', () => {
    const r = oneQuery(1, 1, gallery, { apVariant: 'market1501-official' });
    // match 1 at rank 2: (precision@1 = 0 + precision@2 = 1/2) / 2 = 1/4
    // match 2 at rank 4: (precision@3 = 1/3 + precision@4 = 2/4) / 2 = 5/12
    expect(r.ap[0]).toBeCloseTo((1 / 4 + 5 / 12) / 2, 12);
    expect(r.apVariant).toBe('market1501-official');
    const top = oneQuery(1, 1, [[1, 2, 0.1], [2, 2, 0.2], [1, 3, 0.3]], { apVariant: 'market1501-official' });
    // rank 1: (1 + 1) / 2 = 1; rank 3: (1/2 + 2/3) / 2 = 7/12
    expect(top.ap[0]).toBeCloseTo((1 + 7 / 12) / 2, 12);
  });

  it('breaks ties by gallery index (stable sort)', () => {
    // All equal distances: order is gallery order.
    const late = oneQuery(1, 1, [[2, 2, 0.5], [1, 2, 0.5], [1, 3, 0.5]]);
    expect(late.ap[0]).toBeCloseTo((1 / 2 + 2 / 3) / 2, 12);
    expect(late.firstMatchRank[0]).toBe(2);
    const early = oneQuery(1, 1, [[1, 2, 0.5], [1, 3, 0.5], [2, 2, 0.5]]);
    expect(early.ap[0]).toBe(1);
    expect(early.cmc[0]).toBe(1);
    // -0 and +0 are equal values: index order decides.
    const zeros = oneQuery(1, 1, [[2, 2, 0], [1, 2, -0]]);
    expect(zeros.firstMatchRank[0]).toBe(2);
  });

  it('skips a query whose only matches are same-camera, and junk/distractor queries', () => {
    const r = evaluateRanking({
      // q0: pid 1 cam 1, only same-camera match -> skipped. q1: pid 2 cam 1, match at rank 1.
      // q2: pid -1 (junk query) and q3: pid 0 (distractor query) -> skipped.
      distmat: Float32Array.from([
        0.1, 0.2, 0.3,
        0.9, 0.1, 0.3,
        0.1, 0.2, 0.3,
        0.1, 0.2, 0.3,
      ]),
      queryIds: [1, 2, -1, 0],
      queryCams: [1, 1, 1, 2],
      galleryIds: [1, 2, 0],
      galleryCams: [1, 2, 1],
      maxRank: 3,
    });
    expect(r.numQueries).toBe(4);
    expect(r.numValidQueries).toBe(1);
    expect(Number.isNaN(r.ap[0])).toBe(true);
    expect(Number.isNaN(r.ap[2])).toBe(true);
    expect(Number.isNaN(r.ap[3])).toBe(true);
    expect(r.ap[1]).toBe(1);
    expect(r.mAP).toBe(1);
    expect(Array.from(r.cmc)).toEqual([1, 1, 1]);
  });

  it('averages CMC over valid queries and keeps it at 1 past a short cleaned list', () => {
    const r = evaluateRanking({
      distmat: Float32Array.from([0.1, 0.2, 0.2, 0.1]),
      queryIds: [1, 1],
      queryCams: [1, 1],
      galleryIds: [1, 2],
      galleryCams: [2, 2],
      maxRank: 4,
    });
    // q0: match at rank 1; q1: match at rank 2.
    expect(Array.from(r.cmc)).toEqual([0.5, 1, 1, 1]);
    expect(r.mAP).toBeCloseTo((1 + 0.5) / 2, 12);
    expect(r.mINP).toBeCloseTo((1 + 0.5) / 2, 12);
  });

  it('throws bad-dataset when every query is all-junk (no valid query)', () => {
    const run = () => oneQuery(1, 1, [[-1, 2, 0.1], [1, 1, 0.2], [-1, 3, 0.3]]);
    expect(run).toThrowError(/None of the 1 queries/);
    try { run(); } catch (e) { expect(isLabError(e, 'bad-dataset')).toBe(true); }
  });

  it('rejects malformed input with bad-argument', () => {
    const base: RankingInput = {
      distmat: new Float32Array(6), queryIds: [1, 2], queryCams: [1, 1],
      galleryIds: [1, 2, 3], galleryCams: [2, 2, 2], maxRank: 3,
    };
    const bad: Partial<RankingInput>[] = [
      { distmat: new Float32Array(5) },
      { queryCams: [1] },
      { galleryCams: [1, 2] },
      { maxRank: 0 },
      { maxRank: 2.5 },
      { queryIds: [], queryCams: [], distmat: new Float32Array(0) },
      { distmat: Float32Array.from([0, NaN, 0, 0, 0, 0]) },
      { apVariant: 'interpolated' as never },
    ];
    for (const b of bad) {
      let err: unknown;
      try { evaluateRanking({ ...base, ...b }); } catch (e) { err = e; }
      expect(isLabError(err, 'bad-argument'), JSON.stringify(Object.keys(b))).toBe(true);
      expect((err as Error).message.length).toBeGreaterThan(20);
    }
  });
});

describe('evaluateRanking: against a literal torchreid-style reference', () => {
  it('matches on random data with ties, junk and distractors', () => {
    const rng = new Prng(7);
    for (let trial = 0; trial < 20; trial++) {
      const nq = rng.int(1, 30);
      const ng = rng.int(1, 80);
      const ids = (n: number) => Array.from({ length: n }, () => rng.int(-1, 6));
      const cams = (n: number) => Array.from({ length: n }, () => rng.int(1, 3));
      const input: RankingInput = {
        // Coarse values so ties are frequent; some negatives.
        distmat: Float32Array.from({ length: nq * ng }, () => rng.int(-3, 8) / 4),
        queryIds: ids(nq), queryCams: cams(nq), galleryIds: ids(ng), galleryCams: cams(ng),
        maxRank: rng.int(1, 12),
      };
      const ref = reference(input);
      if (ref.numValid === 0) {
        expect(() => evaluateRanking(input)).toThrow();
        continue;
      }
      const r = evaluateRanking(input);
      expect(r.numValidQueries).toBe(ref.numValid);
      expect(r.mAP).toBeCloseTo(ref.mAP, 10);
      expect(r.mINP).toBeCloseTo(ref.mINP, 10);
      ref.cmc.forEach((c, k) => expect(r.cmc[k]).toBeCloseTo(c, 12));
      // The trapezoid AP is never above the non-interpolated AP.
      const off = evaluateRanking({ ...input, apVariant: 'market1501-official' });
      for (let q = 0; q < nq; q++) {
        if (!Number.isNaN(r.ap[q])) expect(off.ap[q]).toBeLessThanOrEqual(r.ap[q] + 1e-12);
      }
    }
  });
});

describe('RankingAccumulator', () => {
  const rng = new Prng(11);
  const nq = 9, ng = 40;
  const input: RankingInput = {
    distmat: Float32Array.from({ length: nq * ng }, () => rng.next()),
    queryIds: Array.from({ length: nq }, () => rng.int(1, 4)), queryCams: Array.from({ length: nq }, () => rng.int(1, 3)),
    galleryIds: Array.from({ length: ng }, () => rng.int(-1, 4)), galleryCams: Array.from({ length: ng }, () => rng.int(1, 3)),
    maxRank: 10,
  };

  it('gives the whole-matrix result when rows arrive in chunks, in any order', () => {
    const whole = evaluateRanking(input);
    const acc = new RankingAccumulator(input);
    for (const [start, rows] of [[6, 3], [0, 2], [2, 4]]) acc.addRows(start, input.distmat.slice(start * ng, (start + rows) * ng));
    const r = acc.finish();
    expect(r.mAP).toBe(whole.mAP);
    expect(Array.from(r.cmc)).toEqual(Array.from(whole.cmc));
    expect(Array.from(r.ap)).toEqual(Array.from(whole.ap));
  });

  it('refuses rows twice, rows out of range, partial rows, and finishing early', () => {
    const acc = new RankingAccumulator(input);
    acc.addRows(0, input.distmat.slice(0, ng));
    const cases = [
      () => acc.addRows(0, input.distmat.slice(0, ng)),
      () => acc.addRows(8, input.distmat.slice(0, 2 * ng)),
      () => acc.addRows(1, input.distmat.slice(0, ng - 1)),
      () => acc.finish(),
    ];
    for (const f of cases) {
      let err: unknown;
      try { f(); } catch (e) { err = e; }
      expect(isLabError(err, 'bad-argument')).toBe(true);
    }
  });
});

describe('argsortFloat32', () => {
  it('equals a stable comparator sort, including negatives, infinities and ties', () => {
    const rng = new Prng(3);
    const special = [0, -0, Infinity, -Infinity, 1e-40, -1e-40, 3.4e38, -3.4e38];
    for (const n of [0, 1, 2, 17, 1000, 5000]) {
      const v = Float32Array.from({ length: n }, (_, i) =>
        i % 7 === 0 ? special[rng.int(0, special.length - 1)] : rng.int(-50, 50) * (rng.bool() ? 1 : 0.37));
      const got = Array.from(argsortFloat32(v));
      const want = Array.from(v, (_, i) => i).sort((a, b) => (v[a] < v[b] ? -1 : v[a] > v[b] ? 1 : a - b));
      expect(got).toEqual(want);
    }
  });
});
