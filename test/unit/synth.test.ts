import { describe, expect, it } from 'vitest';
import {
  cameraNetwork, generateSynthReid, manifestDigest, parseMarketName, planSynthReid, renderSynthImage,
  sourceCameraFor, verifyAgainstManifest, marketName, SYNTH_TIERS,
} from '../../src/engine/data/synth';
import { interpolateCamera } from '../../src/engine/data/synth/cameras';
import { fnv1a32 } from '../../src/engine/data/synth/detmath';
import { SYNTH_GOLDEN } from '../../src/engine/data/synth/golden';
import { imageView } from '../../src/engine/data/types';
import { isLabError } from '../../src/engine/errors';

const xsSource = generateSynthReid({ tier: 'XS', domain: 'source' });
const xsTarget = generateSynthReid({ tier: 'XS', domain: 'target' });

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

describe('SynthReID determinism', () => {
  it('same seed gives identical bytes, labels and names', () => {
    const again = generateSynthReid({ tier: 'XS', domain: 'source' });
    for (const s of ['train', 'query', 'gallery'] as const) {
      expect(bytesEqual(again.dataset[s].images, xsSource.dataset[s].images)).toBe(true);
      expect(Array.from(again.dataset[s].pids)).toEqual(Array.from(xsSource.dataset[s].pids));
      expect(again.dataset[s].names).toEqual(xsSource.dataset[s].names);
    }
    expect(again.manifest.digest).toBe(xsSource.manifest.digest);
  });

  it('a different seed gives different images', () => {
    const other = generateSynthReid({ tier: 'XS', domain: 'source', seed: 7 });
    expect(other.manifest.digest).not.toBe(xsSource.manifest.digest);
    const a = imageView(other.dataset.train, 0);
    const b = imageView(xsSource.dataset.train, 0);
    expect(bytesEqual(a, b)).toBe(false);
  });

  it('renderSynthImage reproduces a dataset image from (domain, pid, camera, index)', () => {
    const q = xsSource.dataset.query;
    for (const i of [0, Math.floor(q.count / 2), q.count - 1]) {
      const img = renderSynthImage({ tier: 'XS', domain: 'source', pid: q.pids[i], camera: q.camids[i], index: 0 });
      expect(bytesEqual(img, imageView(q, i))).toBe(true);
    }
  });
});

describe('SynthReID manifest', () => {
  it('records one hash per image that matches the bytes, and catches a changed byte', () => {
    const { dataset, manifest } = xsSource;
    expect(manifest.generator).toBe('SynthReID');
    expect(manifest.options).toMatchObject({ tier: 'XS', domain: 'source', height: 128, width: 64 });
    expect(manifest.splits.gallery).toHaveLength(dataset.gallery.count);
    // Independent hash of one image (FNV-1a written out here).
    const img = imageView(dataset.train, 3);
    let h = 0x811c9dc5;
    for (const byte of img) h = Math.imul(h ^ byte, 0x01000193) >>> 0;
    expect(manifest.splits.train[3].fnv1a).toBe(h.toString(16).padStart(8, '0'));
    expect(fnv1a32(img)).toBe(h);
    expect(verifyAgainstManifest(dataset, manifest)).toEqual([]);
    const copy = { ...dataset, gallery: { ...dataset.gallery, images: dataset.gallery.images.slice() } };
    const n = 128 * 64 * 3;
    copy.gallery.images[5 * n + 100] ^= 1;
    expect(verifyAgainstManifest(copy, manifest)).toEqual([`gallery/${manifest.splits.gallery[5].name}`]);
    expect(manifestDigest(manifest.splits)).toBe(manifest.digest);
  });

  it('XS at the default seed matches the stored reference digests of this generator version', () => {
    expect(xsSource.manifest.version).toBe(SYNTH_GOLDEN.version);
    expect(xsSource.manifest.options.seed).toBe(SYNTH_GOLDEN.seed);
    expect(xsSource.manifest.digest).toBe(SYNTH_GOLDEN.digests.source);
    expect(xsTarget.manifest.digest).toBe(SYNTH_GOLDEN.digests.target);
  });

  it('a regenerated XS tier matches the stored manifest hashes', () => {
    // Regenerate through the plan (a different code path from generateSynthReid's batch loop).
    const plan = planSynthReid({ tier: 'XS', domain: 'target' });
    expect(plan.splits.query.map((m) => m.name)).toEqual(xsTarget.manifest.splits.query.map((m) => m.name));
    expect(verifyAgainstManifest(xsTarget.dataset, xsTarget.manifest)).toEqual([]);
  });
});

describe('SynthReID splits follow Market-1501', () => {
  for (const [label, result] of [['source', xsSource], ['target', xsTarget]] as const) {
    it(`${label}: disjoint identities, one query per (id, cam), 2-6 cameras, distractors and junk only in the gallery`, () => {
      const { train, query, gallery } = result.dataset;
      const nCams = cameraNetwork(label).length;
      const trainIds = new Set(train.pids);
      const testIds = new Set(query.pids);
      expect(trainIds.size).toBe(SYNTH_TIERS.XS.trainIds);
      expect(testIds.size).toBe(SYNTH_TIERS.XS.testIds);
      for (const p of testIds) expect(trainIds.has(p)).toBe(false);
      for (const p of [...train.pids, ...query.pids]) expect(p).toBeGreaterThan(0);
      // One query per (identity, camera).
      const seen = new Set<string>();
      for (let i = 0; i < query.count; i++) {
        const k = `${query.pids[i]}/${query.camids[i]}`;
        expect(seen.has(k)).toBe(false);
        seen.add(k);
      }
      // Each test identity: 2..6 cameras, every query camera has gallery images of it too,
      // and every query has a match in another camera.
      for (const p of testIds) {
        const qCams = new Set<number>();
        for (let i = 0; i < query.count; i++) if (query.pids[i] === p) qCams.add(query.camids[i]);
        const gCams = new Set<number>();
        for (let i = 0; i < gallery.count; i++) if (gallery.pids[i] === p) gCams.add(gallery.camids[i]);
        expect(qCams.size).toBeGreaterThanOrEqual(2);
        expect(qCams.size).toBeLessThanOrEqual(Math.min(6, nCams));
        expect([...gCams].sort()).toEqual([...qCams].sort());
      }
      // Gallery: test identities plus pid 0 and -1, nothing from training.
      let distractors = 0;
      let junk = 0;
      for (const p of gallery.pids) {
        if (p === 0) distractors++;
        else if (p === -1) junk++;
        else expect(testIds.has(p)).toBe(true);
      }
      expect(distractors).toBe(SYNTH_TIERS.XS.distractors);
      expect(junk).toBe(SYNTH_TIERS.XS.junk);
      // Names parse back to labels, are unique, and each split is sorted as a folder listing.
      for (const split of [train, query, gallery]) {
        const names = split.names!;
        expect(new Set(names).size).toBe(names.length);
        expect([...names].sort()).toEqual(names);
        names.forEach((name, i) => {
          const parsed = parseMarketName(name);
          expect(parsed).not.toBeNull();
          expect(parsed!.pid).toBe(split.pids[i]);
          expect(parsed!.camera).toBe(split.camids[i]);
          expect(split.camids[i]).toBeGreaterThanOrEqual(1);
          expect(split.camids[i]).toBeLessThanOrEqual(nCams);
        });
      }
    });
  }

  it('source and target identities never collide', () => {
    const a = new Set([...xsSource.dataset.train.pids, ...xsSource.dataset.query.pids]);
    for (const p of [...xsTarget.dataset.train.pids, ...xsTarget.dataset.query.pids]) expect(a.has(p)).toBe(false);
  });

  it('formats and parses Market-1501 names', () => {
    expect(marketName(2, 1, 1, 451, 3)).toBe('0002_c1s1_000451_03.jpg');
    expect(marketName(-1, 6, 2, 7, 1)).toBe('-1_c6s2_000007_01.jpg');
    expect(parseMarketName('0002_c1s1_000451_03.jpg')).toEqual({ pid: 2, camera: 1, seq: 1, frame: 451, box: 3 });
    expect(parseMarketName('-1_c3s2_000100_01.jpg')?.pid).toBe(-1);
    expect(parseMarketName('0002_c1s1_451_03.jpg')).toBeNull();
  });
});

describe('SynthReID cameras and the domain-shift knob', () => {
  it('shift 0 gives target camera k exactly source camera k; shift 1 the target network', () => {
    const at0 = cameraNetwork('target', 0);
    const at1 = cameraNetwork('target', 1);
    const dflt = cameraNetwork('target');
    at0.forEach((c, k) => {
      const src = sourceCameraFor(k + 1);
      expect(c).toEqual(src);
    });
    expect(dflt).toEqual(at1);
    // Target cameras are dimmer and lower resolution than their source counterparts.
    at1.forEach((c, k) => {
      expect(c.gain).toBeLessThan(sourceCameraFor(k + 1).gain);
      expect(c.resolution).toBeLessThan(sourceCameraFor(k + 1).resolution);
    });
  });

  it('intermediate shifts lie between the endpoints', () => {
    const a = sourceCameraFor(2);
    const b = cameraNetwork('target', 1)[1];
    const m = interpolateCamera(a, b, 0.3);
    expect(m.gain).toBeCloseTo(0.7 * a.gain + 0.3 * b.gain, 12);
    expect(m.noise).toBeCloseTo(0.7 * a.noise + 0.3 * b.noise, 12);
    expect(m.scene.kind).toBe(a.scene.kind);
    expect(interpolateCamera(a, b, 0.7).scene.kind).toBe(b.scene.kind);
  });

  it('a target dataset at shift 0 differs from shift 1 but keeps its people', () => {
    const s0 = planSynthReid({ tier: 'XS', domain: 'target', shift: 0 });
    const s1 = planSynthReid({ tier: 'XS', domain: 'target', shift: 1 });
    expect(s0.splits.train.map((m) => m.name)).toEqual(s1.splits.train.map((m) => m.name));
    const img0 = renderSynthImage({ tier: 'XS', domain: 'target', shift: 0, pid: s0.splits.query[0].pid, camera: s0.splits.query[0].camera, index: 0 });
    const img1 = renderSynthImage({ tier: 'XS', domain: 'target', shift: 1, pid: s0.splits.query[0].pid, camera: s0.splits.query[0].camera, index: 0 });
    expect(bytesEqual(img0, img1)).toBe(false);
    // Mean brightness: the evening target is darker than its daylight end.
    const mean = (x: Uint8Array) => x.reduce((a, v) => a + v, 0) / x.length;
    expect(mean(img1)).toBeLessThan(mean(img0));
  });

  it('rejects bad options with a LabError and a sentence', () => {
    const bad = [
      () => generateSynthReid({ tier: 'XL' as 'XS', domain: 'source' }),
      () => generateSynthReid({ tier: 'XS', domain: 'moon' as 'source' }),
      () => generateSynthReid({ tier: 'XS', domain: 'target', shift: 1.5 }),
      () => generateSynthReid({ tier: 'XS', domain: 'source', seed: -3 }),
      () => generateSynthReid({ tier: 'XS', domain: 'source', height: 10 }),
      () => renderSynthImage({ tier: 'XS', domain: 'source', pid: 999, camera: 1, index: 0 }),
      () => renderSynthImage({ tier: 'XS', domain: 'target', pid: 5001, camera: 6, index: 0 }),
    ];
    for (const f of bad) {
      let err: unknown;
      try {
        f();
      } catch (e) {
        err = e;
      }
      expect(isLabError(err, 'bad-argument')).toBe(true);
      expect((err as Error).message).toMatch(/\.$/);
    }
  });

  it('reports progress and can be cancelled', () => {
    const seen: number[] = [];
    generateSynthReid({ tier: 'XS', domain: 'source', onProgress: (p) => seen.push(p.done) });
    const total = xsSource.dataset.train.count + xsSource.dataset.query.count + xsSource.dataset.gallery.count;
    expect(seen[seen.length - 1]).toBe(total);
    expect(seen.every((v, i) => i === 0 || v >= seen[i - 1])).toBe(true);
    let calls = 0;
    expect(() => generateSynthReid({ tier: 'XS', domain: 'source', isCancelled: () => ++calls > 10 })).toThrow(/cancelled/);
  });
});
