import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  cameraNetwork, fnv1a32, generateSynthReid, planSynthReid, parseMarketName, renderPlannedImage, renderSynthImage, resolveSynthOptions, synthRoster,
  POOL_CAMERA_RANGES, POOL_MAX_SLOTS, SYNTH_POOL_GOLDEN, SYNTH_POOL_VERSION, SYNTH_GENERATOR_VERSION,
} from '../../src/engine/data/synth';
import type { CameraParams, Identity, SynthPlan } from '../../src/engine/data/synth';
import { parseMarketStyleName } from '../../src/engine/data/market/names';
import { imageView } from '../../src/engine/data/types';
import { isLabError } from '../../src/engine/errors';
import { writeMarketLayout } from '../../src/node/write-market-layout';

const H = SYNTH_POOL_GOLDEN.height;
const W = SYNTH_POOL_GOLDEN.width;
const pool = planSynthReid({ tier: 'P', domain: 'pool', height: H, width: W });
const root = mkdtempSync(path.join(tmpdir(), 'synthreid-pool-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const hex = (b: Uint8Array) => fnv1a32(b).toString(16).padStart(8, '0');

function poolCameras(plan: SynthPlan): CameraParams[] {
  const cams = new Set<CameraParams>();
  for (const split of Object.values(plan.splits)) for (const im of split) cams.add(im.request.cameraParams!);
  return [...cams];
}

/** What makes a person that person: body and outfit (not the pid, family index or cue labels). */
const looks = (p: Identity) => JSON.stringify({ body: p.body, outfit: p.outfit });

function everyone(tier: 'S' | 'M', domain: 'source' | 'target'): Identity[] {
  const r = synthRoster({ tier, domain });
  return [...r.train, ...r.test, ...r.ghosts];
}

describe('SynthReID tier P (the pre-training pool)', () => {
  it('has 5,000 training identities with 8-12 images over 3-5 camera visits, and 200 test identities with queries and gallery', () => {
    expect(pool.roster.train).toHaveLength(5000);
    expect(pool.roster.test).toHaveLength(200);
    const perId = new Map<number, { n: number; cams: Set<number> }>();
    for (const im of pool.splits.train) {
      const e = perId.get(im.pid) ?? { n: 0, cams: new Set<number>() };
      e.n++;
      e.cams.add(im.camera);
      perId.set(im.pid, e);
    }
    expect(perId.size).toBe(5000);
    for (const { n, cams } of perId.values()) {
      expect(n).toBeGreaterThanOrEqual(8);
      expect(n).toBeLessThanOrEqual(12);
      expect(cams.size).toBeGreaterThanOrEqual(3);
      expect(cams.size).toBeLessThanOrEqual(5);
    }
    const testIds = new Set(pool.roster.test.map((p) => p.pid));
    expect(new Set(pool.splits.query.map((m) => m.pid))).toEqual(testIds);
    expect(pool.splits.gallery.some((m) => m.pid === 0)).toBe(true);
    expect(pool.splits.gallery.some((m) => m.pid === -1)).toBe(true);
    for (const im of pool.splits.train) expect(testIds.has(im.pid)).toBe(false);
  });

  it('uses Market-1501 file names (camera slots c1-c6) that both name parsers read back, each name once', () => {
    const names = new Set<string>();
    const misread: string[] = [];
    for (const split of Object.values(pool.splits)) {
      for (const im of split) {
        names.add(im.name);
        const a = parseMarketName(im.name);
        const b = parseMarketStyleName(im.name);
        const ok = a?.pid === im.pid && a.camera === im.camera && b?.pid === im.pid && b.camid === im.camera && im.camera >= 1 && im.camera <= POOL_MAX_SLOTS;
        if (!ok) misread.push(im.name);
      }
    }
    expect(misread).toEqual([]);
    expect(names.size).toBe(pool.splits.train.length + pool.splits.query.length + pool.splits.gallery.length);
  });

  it('has no person who is a source or target person of tier S or M (same body and outfit)', () => {
    const poolLooks = new Set([...pool.roster.train, ...pool.roster.test, ...pool.roster.ghosts].map(looks));
    expect(poolLooks.size).toBe(5200 + pool.roster.ghosts.length);
    for (const tier of ['S', 'M'] as const) {
      for (const domain of ['source', 'target'] as const) {
        const shared = everyone(tier, domain).filter((p) => poolLooks.has(looks(p)));
        expect(shared.map((p) => `${tier}/${domain} pid ${p.pid}`)).toEqual([]);
      }
    }
    // The comparison can find shared people: S and M source draw their families from one seed space.
    const mSource = new Set(everyone('M', 'source').map(looks));
    expect(everyone('S', 'source').filter((p) => mSource.has(looks(p))).length).toBeGreaterThan(0);
  });

  it('draws a camera per visit from wide ranges, none of them a source or target camera or scene', () => {
    const cams = poolCameras(pool);
    expect(cams.length).toBeGreaterThan(20000);
    const R = POOL_CAMERA_RANGES;
    // Capture parameters, each scaled by its pool range: a copied camera would be at distance 0.
    const ranges = [R.gain, R.whiteBalanceRB, R.whiteBalanceG, R.whiteBalanceRB, R.hueShift, R.tone, R.saturation, R.noise, R.blur, R.resolution];
    const vec = (c: CameraParams) => [c.gain, ...c.whiteBalance, c.hueShift, c.tone, c.saturation, c.noise, c.blur, c.resolution].map((x, i) => x / (ranges[i][1] - ranges[i][0]));
    const domainCams = [...cameraNetwork('source'), ...cameraNetwork('target'), ...cameraNetwork('target', 0.5)];
    const domainSeeds = new Set(domainCams.map((c) => c.scene.layoutSeed));
    const domainScenes = new Set(domainCams.map((c) => JSON.stringify(c.scene)));
    for (const d of domainCams) {
      const dv = vec(d);
      let nearest = Infinity;
      for (const c of cams) {
        const cv = vec(c);
        let far = 0;
        for (let i = 0; i < cv.length; i++) far = Math.max(far, Math.abs(cv[i] - dv[i]));
        nearest = Math.min(nearest, far);
      }
      // At least one capture parameter differs by over 5% of its pool range, for every pool camera.
      expect(nearest).toBeGreaterThan(0.05);
    }
    for (const c of cams) {
      expect(domainSeeds.has(c.scene.layoutSeed)).toBe(false);
      expect(domainScenes.has(JSON.stringify(c.scene))).toBe(false);
    }
    // Wide: the drawn values cover (almost) all of each range, and the ranges hold both domains' cameras.
    const scalar: (keyof typeof R & keyof CameraParams)[] = ['gain', 'hueShift', 'tone', 'saturation', 'noise', 'blur', 'resolution', 'personScale', 'occlusionRate', 'boxJitter', 'truncationRate'];
    for (const k of scalar) {
      const xs = cams.map((c) => c[k] as number);
      const [lo, hi] = R[k];
      expect(Math.min(...xs)).toBeLessThan(lo + 0.02 * (hi - lo));
      expect(Math.max(...xs)).toBeGreaterThan(hi - 0.02 * (hi - lo));
      for (const d of domainCams) {
        expect(d[k] as number).toBeGreaterThanOrEqual(lo);
        expect(d[k] as number).toBeLessThanOrEqual(hi);
      }
    }
    for (const d of domainCams) {
      for (const [ch, [lo, hi]] of [[0, R.whiteBalanceRB], [1, R.whiteBalanceG], [2, R.whiteBalanceRB]] as const) {
        expect(d.whiteBalance[ch]).toBeGreaterThanOrEqual(lo);
        expect(d.whiteBalance[ch]).toBeLessThanOrEqual(hi);
      }
    }
  });

  it('is deterministic: two plans render the same bytes, equal to the stored reference hashes', () => {
    expect(SYNTH_POOL_GOLDEN.version).toBe(SYNTH_POOL_VERSION);
    expect(SYNTH_POOL_VERSION.startsWith(`${SYNTH_GENERATOR_VERSION}+pool.`)).toBe(true);
    const again = planSynthReid({ tier: 'P', domain: 'pool', height: H, width: W });
    for (const split of ['train', 'query', 'gallery'] as const) {
      for (const [name, want] of Object.entries(SYNTH_POOL_GOLDEN.images[split])) {
        const a = pool.splits[split].find((m) => m.name === name);
        const b = again.splits[split].find((m) => m.name === name);
        expect(a, name).toBeDefined();
        expect(hex(renderPlannedImage(pool, a!))).toBe(want);
        expect(hex(renderPlannedImage(again, b!))).toBe(want);
      }
    }
    // A single query image rendered on its own (thumbnails) is the dataset's image.
    const q = pool.splits.query[0];
    expect(hex(renderSynthImage({ domain: 'pool', pid: q.pid, camera: q.camera, index: 0, height: H, width: W }))).toBe(hex(renderPlannedImage(pool, q)));
  });

  it('refuses pool/tier mix-ups with a clear message', () => {
    const message = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        expect(isLabError(e, 'bad-argument')).toBe(true);
        return (e as Error).message;
      }
      throw new Error('expected a LabError');
    };
    expect(message(() => resolveSynthOptions({ tier: 'P', domain: 'source' }))).toMatch(/tier P is the pre-training pool/);
    expect(message(() => resolveSynthOptions({ tier: 'S', domain: 'pool' }))).toMatch(/tier P only/);
    expect(message(() => cameraNetwork('pool'))).toMatch(/no camera network/);
    expect(message(() => renderSynthImage({ domain: 'pool', pid: 1, camera: POOL_MAX_SLOTS + 1, index: 0, height: H, width: W }))).toMatch(/cameras 1 to 6/);
  });

  it('renders only the test split when asked (evaluation), with the same bytes as the full plan', () => {
    const size = { height: 32, width: 16 };
    const { dataset, manifest } = generateSynthReid({ tier: 'P', domain: 'pool', ...size, splits: ['query', 'gallery'] });
    expect(dataset.train.count).toBe(0);
    expect(dataset.query.count).toBe(pool.splits.query.length);
    expect(dataset.gallery.count).toBe(pool.splits.gallery.length);
    expect(manifest.onlySplits).toEqual(['query', 'gallery']);
    expect(manifest.version).toBe(SYNTH_POOL_VERSION);
    const full = planSynthReid({ tier: 'P', domain: 'pool', ...size });
    for (const i of [0, dataset.gallery.count - 1]) {
      expect(dataset.gallery.names![i]).toBe(full.splits.gallery[i].name);
      expect(hex(imageView(dataset.gallery, i))).toBe(hex(renderPlannedImage(full, full.splits.gallery[i])));
    }
  });

  it('streams to disk through the Market-1501 writer, image by image, under the planned names', async () => {
    const dir = path.join(root, 'p');
    let written = 0;
    await expect(writeMarketLayout({ dir, tier: 'P', domain: 'pool', height: H, width: W, format: 'png', isCancelled: () => ++written > 12 })).rejects.toThrow(/cancelled/);
    const files = readdirSync(path.join(dir, 'bounding_box_train')).sort();
    expect(files).toEqual(pool.splits.train.slice(0, 12).map((m) => m.name.replace(/\.jpg$/, '.png')));
  });
});
