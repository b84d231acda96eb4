import { describe, expect, it } from 'vitest';
import { generateSynthReid } from '../../src/engine/data/synth';
import { colorHistogramFeatures, evaluateColorHistogram, rgbToHsv } from '../../src/engine/eval/color-histogram';
import { evaluateRanking } from '../../src/engine/eval/ranking';
import type { ReidSplit } from '../../src/engine/data/types';
import { Prng } from '../../src/engine/util/prng';
import { detCos, detSin } from '../../src/engine/data/synth/detmath';

describe('colour-histogram features', () => {
  it('converts RGB to HSV (hand-worked values)', () => {
    expect(rgbToHsv(255, 0, 0)).toEqual([0, 1, 1]);
    expect(rgbToHsv(0, 255, 0)).toEqual([1 / 3, 1, 1]);
    expect(rgbToHsv(0, 0, 255)).toEqual([2 / 3, 1, 1]);
    expect(rgbToHsv(0, 0, 0)).toEqual([0, 0, 0]);
    const [h, s, v] = rgbToHsv(255, 128, 0); // orange: hue 30 degrees
    expect(h).toBeCloseTo(128 / 255 / 6, 12);
    expect(s).toBe(1);
    expect(v).toBe(1);
  });

  it('puts each half of an image in its own histogram, square-rooted and L1-normalised before the root', () => {
    // 4x2 image: top half pure red, bottom half: one grey row and one blue row.
    const px = [255, 0, 0, 255, 0, 0, 255, 0, 0, 255, 0, 0, 128, 128, 128, 128, 128, 128, 0, 0, 255, 0, 0, 255];
    const split: ReidSplit = { images: Uint8Array.from(px), count: 1, height: 4, width: 2, pids: Int32Array.of(1), camids: Int32Array.of(1) };
    const f = colorHistogramFeatures(split, { bins: [4, 2, 2] });
    expect(f.dim).toBe(32);
    const upper = Array.from(f.data.subarray(0, 16));
    const lower = Array.from(f.data.subarray(16, 32));
    // Red: hue bin 0, sat bin 1, value bin 1 -> index (0*2+1)*2+1 = 3, all 4 pixels.
    expect(upper[3]).toBeCloseTo(1, 6);
    expect(upper.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6);
    // Grey (s = 0): achromatic, hue bin 0, sat 0, value bin 1 -> index 1, half of the pixels.
    expect(lower[1]).toBeCloseTo(Math.sqrt(0.5), 6);
    // Blue: hue 2/3 -> bin 2, sat 1, value 1 -> (2*2+1)*2+1 = 11.
    expect(lower[11]).toBeCloseTo(Math.sqrt(0.5), 6);
  });
});

describe('colour baseline on SynthReID XS', () => {
  it('is well above chance on the source domain (the features work) yet far from solving it', async () => {
    const { dataset } = generateSynthReid({ tier: 'XS', domain: 'source' });
    const res = await evaluateColorHistogram(dataset);
    // Chance: the same protocol on random distances, averaged over draws.
    const prng = new Prng(3);
    let chanceR1 = 0;
    let chanceMap = 0;
    const draws = 20;
    for (let k = 0; k < draws; k++) {
      const distmat = new Float32Array(dataset.query.count * dataset.gallery.count).map(() => prng.next());
      const r = evaluateRanking({
        distmat, queryIds: dataset.query.pids, galleryIds: dataset.gallery.pids,
        queryCams: dataset.query.camids, galleryCams: dataset.gallery.camids, maxRank: 1,
      });
      chanceR1 += r.cmc[0] / draws;
      chanceMap += r.mAP / draws;
    }
    expect(res.ranking.numValidQueries).toBe(dataset.query.count);
    expect(res.rank1).toBeGreaterThan(3 * chanceR1);
    expect(res.mAP).toBeGreaterThan(2 * chanceMap);
    expect(res.rank1).toBeLessThan(0.6);
  });
});

describe('deterministic sine', () => {
  it('matches Math.sin to 1e-7 over several periods', () => {
    for (let x = -20; x <= 20; x += 0.0137) {
      expect(Math.abs(detSin(x) - Math.sin(x))).toBeLessThan(1e-7);
      expect(Math.abs(detCos(x) - Math.cos(x))).toBeLessThan(1e-7);
    }
  });
});
