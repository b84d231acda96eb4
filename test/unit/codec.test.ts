import { describe, expect, it } from 'vitest';
import { encode as pngEncode } from 'fast-png';
import { pngDeclaring } from './png-bomb';
import {
  MAX_IMAGE_PIXELS, decodeImage, encodeJpeg, encodePng, resizeBilinear, sniffImageFormat, type RgbImage,
} from '../../src/engine/data/codec';
import { isLabError } from '../../src/engine/errors';
import { Prng } from '../../src/engine/util/prng';

function randomImage(width: number, height: number, seed: number): RgbImage {
  const r = new Prng(seed);
  return { width, height, data: Uint8Array.from({ length: width * height * 3 }, () => r.int(0, 255)) };
}

function solid(width: number, height: number, rgb: [number, number, number]): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < width * height; i++) data.set(rgb, i * 3);
  return { width, height, data };
}

/** A 1-pixel-high image from one channel's values (all three channels equal). */
function row(values: number[]): RgbImage {
  return { width: values.length, height: 1, data: Uint8Array.from(values.flatMap((v) => [v, v, v])) };
}
const red = (img: RgbImage) => Array.from({ length: img.width * img.height }, (_, i) => img.data[i * 3]);

function expectBadImage(f: () => unknown) {
  let err: unknown;
  try { f(); } catch (e) { err = e; }
  expect(isLabError(err, 'bad-image')).toBe(true);
  return (err as Error).message;
}

describe('PNG', () => {
  it('round-trips RGB exactly', () => {
    const img = randomImage(13, 7, 1);
    const bytes = encodePng(img);
    expect(sniffImageFormat(bytes)).toBe('png');
    const back = decodeImage(bytes);
    expect([back.width, back.height]).toEqual([13, 7]);
    expect(Array.from(back.data)).toEqual(Array.from(img.data));
  });

  it('reads greyscale, grey+alpha, RGBA, 16-bit, 1-bit and palette PNGs as RGB', () => {
    const grey = pngEncode({ width: 2, height: 1, data: Uint8Array.from([10, 200]), channels: 1, depth: 8 });
    expect(Array.from(decodeImage(grey).data)).toEqual([10, 10, 10, 200, 200, 200]);
    const ga = pngEncode({ width: 2, height: 1, data: Uint8Array.from([10, 0, 200, 255]), channels: 2, depth: 8 });
    expect(Array.from(decodeImage(ga).data)).toEqual([10, 10, 10, 200, 200, 200]);
    const rgba = pngEncode({ width: 1, height: 2, data: Uint8Array.from([1, 2, 3, 0, 4, 5, 6, 128]), channels: 4, depth: 8 });
    expect(Array.from(decodeImage(rgba).data)).toEqual([1, 2, 3, 4, 5, 6]);
    const deep = pngEncode({ width: 1, height: 1, data: Uint16Array.from([0, 257 * 100, 65535]), channels: 3, depth: 16 });
    expect(Array.from(decodeImage(deep).data)).toEqual([0, 100, 255]);
    // 1-bit: 10 pixels in a row -> two bytes, pattern 1011001110.
    const bits = pngEncode({ width: 10, height: 1, data: Uint8Array.from([0b10110011, 0b10000000]), channels: 1, depth: 1 });
    expect(red(decodeImage(bits))).toEqual([1, 0, 1, 1, 0, 0, 1, 1, 1, 0].map((b) => b * 255));
    const pal = pngEncode({
      width: 3, height: 1, data: Uint8Array.from([2, 0, 1]), channels: 1, depth: 8,
      palette: [[255, 0, 0], [0, 255, 0], [0, 0, 255]],
    });
    expect(Array.from(decodeImage(pal).data)).toEqual([0, 0, 255, 255, 0, 0, 0, 255, 0]);
  });
});

describe('declared-size bombs', () => {
  it('decodes a PNG at the pixel cap but refuses one a little above it, naming the file and its declared size', () => {
    // 5000 x 5000 is exactly the cap; 6000 x 5000 (30 MP, a 4 KB file) is over it.
    expect(MAX_IMAGE_PIXELS).toBe(25_000_000);
    const atCap = decodeImage(pngDeclaring(5000, 5000), 'ok.png');
    expect([atCap.width, atCap.height]).toEqual([5000, 5000]);
    const over = pngDeclaring(6000, 5000);
    expect(over.length).toBeLessThan(10_000);
    const msg = expectBadImage(() => decodeImage(over, 'bomb.png'));
    expect(msg).toMatch(/^bomb\.png declares 6000 x 5000 pixels \(30 MP\), more than the 25 MP/);
  });

  it('refuses a 20000 x 20000 PNG of ~50 KB from its header, before inflating it', () => {
    const bomb = pngDeclaring(20000, 20000);
    expect(bomb.length).toBeLessThan(100_000);
    const before = process.memoryUsage().arrayBuffers;
    expect(expectBadImage(() => decodeImage(bomb, 'b.png'))).toMatch(/20000 x 20000 pixels \(400 MP\)/);
    // Decoding would have allocated 1.2 GB of RGB (and 50 MB inflated); nothing close was.
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(20 * 2 ** 20);
  });
});

describe('JPEG', () => {
  it('round-trips a solid colour within a few levels and a random image closely at high quality', () => {
    const s = solid(16, 8, [200, 30, 90]);
    const bytes = encodeJpeg(s, 95);
    expect(sniffImageFormat(bytes)).toBe('jpeg');
    const back = decodeImage(bytes);
    expect([back.width, back.height]).toEqual([16, 8]);
    back.data.forEach((v, i) => expect(Math.abs(v - s.data[i])).toBeLessThanOrEqual(4));
    // A smooth gradient survives quality 95 with small mean error.
    const g: RgbImage = { width: 32, height: 16, data: new Uint8Array(32 * 16 * 3) };
    for (let y = 0; y < 16; y++) for (let x = 0; x < 32; x++) g.data.set([x * 8, y * 16, 128], (y * 32 + x) * 3);
    const gb = decodeImage(encodeJpeg(g, 95));
    const mae = gb.data.reduce((s2, v, i) => s2 + Math.abs(v - g.data[i]), 0) / g.data.length;
    expect(mae).toBeLessThan(3);
  });

  it('reports truncated files and non-images as bad-image with the file name', () => {
    const bytes = encodeJpeg(randomImage(16, 16, 2), 80);
    expectBadImage(() => decodeImage(bytes.subarray(0, 40), 'query/0001_c1s1_000001_00.jpg'));
    const msg = expectBadImage(() => decodeImage(new TextEncoder().encode('hello, not an image'), 'readme.jpg'));
    expect(msg).toContain('readme.jpg');
    expect(msg).toMatch(/neither a JPEG nor a PNG/);
  });
});

describe('resizeBilinear', () => {
  it('copies at the same size and keeps a constant image constant at any size', () => {
    const img = randomImage(5, 4, 3);
    const same = resizeBilinear(img, 5, 4);
    expect(Array.from(same.data)).toEqual(Array.from(img.data));
    expect(same.data).not.toBe(img.data);
    for (const [w, h] of [[64, 128], [3, 2], [1, 1], [7, 11]]) {
      const r = resizeBilinear(solid(37, 91, [12, 130, 250]), w, h);
      for (let i = 0; i < w * h; i++) expect(Array.from(r.data.subarray(i * 3, i * 3 + 3))).toEqual([12, 130, 250]);
    }
  });

  it('enlarges as half-pixel bilinear with clamped edges (hand-worked)', () => {
    // Output centres 0.25, 0.75, 1.25, 1.75 over source centres 0.5, 1.5.
    expect(red(resizeBilinear(row([0, 100]), 4, 1))).toEqual([0, 25, 75, 100]);
  });

  it('shrinks with a widened triangle filter like PIL (hand-worked)', () => {
    // Scale 2: output 0 has centre 1, taps 0,1,2 with weights .75,.75,.25 (normalised by 1.75).
    expect(red(resizeBilinear(row([0, 40, 80, 120]), 2, 1))).toEqual([
      Math.round((0 * 0.75 + 40 * 0.75 + 80 * 0.25) / 1.75),
      Math.round((40 * 0.25 + 80 * 0.75 + 120 * 0.75) / 1.75),
    ]);
  });

  it('works separably on both axes (transposing commutes with resizing)', () => {
    const img = randomImage(9, 6, 4);
    const t = (m: RgbImage): RgbImage => {
      const out = new Uint8Array(m.data.length);
      for (let y = 0; y < m.height; y++) for (let x = 0; x < m.width; x++) {
        out.set(m.data.subarray((y * m.width + x) * 3, (y * m.width + x) * 3 + 3), (x * m.height + y) * 3);
      }
      return { width: m.height, height: m.width, data: out };
    };
    const a = resizeBilinear(img, 4, 13);
    const b = t(resizeBilinear(t(img), 13, 4));
    a.data.forEach((v, i) => expect(Math.abs(v - b.data[i])).toBeLessThanOrEqual(1));
  });

  it('rejects bad sizes and mismatched buffers', () => {
    expect(() => resizeBilinear(randomImage(2, 2, 1), 0, 3)).toThrow(/positive whole-number size/);
    expect(() => resizeBilinear({ width: 2, height: 2, data: new Uint8Array(5) }, 1, 1)).toThrow(/Expected 2 x 2 RGB bytes/);
  });
});
