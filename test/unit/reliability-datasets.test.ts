/**
 * Regression tests for the dataset bugs the fuzzer found:
 * - identities and cameras beyond Int32 wrapped in the split's Int32Arrays: a file named
 *   4294967295_c1... loaded as junk (-1), 2147483648_c1... as a negative identity;
 * - a damaged zip entry (bit flips in stored data) decoded into a different image without a
 *   word: the zip reader now checks each entry's size and CRC-32, and the loader reports the
 *   file as skipped; a damaged list file (MSMT17) is a LabError, not fflate's plain Error.
 */
import { describe, expect, it } from 'vitest';
import { zipSync } from 'fflate';
import { decodeImage, encodeJpeg } from '../../src/engine/data/codec';
import { loadReidDataset } from '../../src/engine/data/market/load';
import { MAX_LABEL, parseListLine, parseMarketStyleName, parseMsmtCamera } from '../../src/engine/data/market/names';
import { bytesRangeReader, memorySource } from '../../src/engine/data/market/source';
import { zipSource } from '../../src/engine/data/market/zip';
import { crc32 } from '../../src/engine/data/market/crc32';
import { isLabError } from '../../src/engine/errors';

const H = 16;
const W = 8;
function jpeg(rgb: [number, number, number]): Uint8Array {
  const data = new Uint8Array(W * H * 3);
  for (let i = 0; i < W * H; i++) data.set(rgb, i * 3);
  return encodeJpeg({ width: W, height: H, data }, 95);
}
const enc = (s: string) => new TextEncoder().encode(s);

describe('labels that do not fit an Int32 are refused, not wrapped', () => {
  it('parses up to 2^31 - 1 and refuses beyond', () => {
    expect(MAX_LABEL).toBe(2147483647);
    expect(parseMarketStyleName('2147483647_c1s1_000451_01.jpg')).toMatchObject({ pid: 2147483647, camid: 1 });
    expect(parseMarketStyleName('2147483648_c1s1_000451_01.jpg')).toBeNull();
    expect(parseMarketStyleName('4294967295_c1s1_000451_01.jpg')).toBeNull();
    expect(parseMarketStyleName('0002_c2147483647s1_000451_01.jpg')).toMatchObject({ pid: 2, camid: 2147483647 });
    expect(parseMarketStyleName('0002_c4294967297s1_000451_01.jpg')).toBeNull();
    expect(parseMsmtCamera('0000_000_4294967297_0303morning_0015_0.jpg')).toBeNull();
    expect(parseListLine('a/b.jpg 4294967296')).toBeNull();
    expect(parseListLine('a/b.jpg 12')).toEqual({ path: 'a/b.jpg', label: 12 });
  });

  it('a gallery file named 4294967295_c2... is skipped and reported, not loaded as junk', async () => {
    const img = jpeg([10, 20, 30]);
    const ds = await loadReidDataset(
      memorySource({
        'm/query/0001_c1s1_000001_01.jpg': img,
        'm/bounding_box_test/0001_c2s1_000002_01.jpg': img,
        'm/bounding_box_test/4294967295_c2s1_000003_01.jpg': img,
      }),
      { height: H, width: W },
    );
    expect(Array.from(ds.gallery.pids)).toEqual([1]);
    expect(ds.report.skipped.map((s) => s.path)).toEqual(['m/bounding_box_test/4294967295_c2s1_000003_01.jpg']);
  });

  it('an MSMT17 label whose lab identity would pass 2^31 - 1 is skipped with a reason', async () => {
    const r = 'MSMT17_V1';
    const img = jpeg([40, 50, 60]);
    const ds = await loadReidDataset(
      memorySource({
        [`${r}/test/0000/0000_000_05_0113morning_0001_0.jpg`]: img,
        [`${r}/test/0000/0000_001_15_0113noon_0002_0.jpg`]: img,
        [`${r}/test/0001/0001_000_07_0113noon_0003_0.jpg`]: img,
        [`${r}/list_query.txt`]: enc('0000/0000_000_05_0113morning_0001_0.jpg 0\n'),
        [`${r}/list_gallery.txt`]: enc(`0000/0000_001_15_0113noon_0002_0.jpg 0\n0001/0001_000_07_0113noon_0003_0.jpg ${MAX_LABEL - 5}\n`),
      }),
      { height: H, width: W },
    );
    expect(ds.gallery.count).toBe(1);
    const s = ds.report.skipped.find((k) => k.path.endsWith('0001_000_07_0113noon_0003_0.jpg'));
    expect(s?.reason).toMatch(/too large/);
  });
});

describe('damaged zip entries are reported, never decoded into something else', () => {
  it('crc32 matches the standard check value', () => {
    expect(crc32(enc('123456789'))).toBe(0xcbf43926);
    expect(crc32(new Uint8Array(0))).toBe(0);
  });

  const files = {
    'm/query/0001_c1s1_000001_01.jpg': jpeg([200, 30, 90]),
    'm/bounding_box_test/0001_c2s1_000002_01.jpg': jpeg([200, 30, 90]),
    'm/bounding_box_test/0001_c3s1_000003_01.jpg': jpeg([120, 130, 40]),
  };
  /** Offset of an entry's data in a stored zip (local header 30 bytes + name). */
  function dataOffset(zip: Uint8Array, name: string): number {
    const needle = enc(name);
    for (let i = 0; i < zip.length; i++) {
      if (zip[i] === 0x50 && zip[i + 1] === 0x4b && zip[i + 2] === 3 && zip[i + 3] === 4 && needle.every((b, k) => zip[i + 30 + k] === b)) {
        return i + 30 + needle.length + (zip[i + 28] | (zip[i + 29] << 8));
      }
    }
    throw new Error(`no local header for ${name}`);
  }

  it('a flipped bit in a stored JPEG skips that image with a checksum reason', async () => {
    const zip = zipSync(files, { level: 0 });
    const name = 'm/bounding_box_test/0001_c3s1_000003_01.jpg';
    // Byte 25 lies in the JPEG's quantisation table: the damaged file still decodes, to other
    // pixels, which is what the loader used to keep without a word.
    const at = dataOffset(zip, name) + 25;
    zip[at] ^= 0x10;
    const alone = decodeImage(zip.subarray(dataOffset(zip, name), dataOffset(zip, name) + files[name].length));
    expect(Math.abs(alone.data[0] - 120)).toBeGreaterThan(20);
    const ds = await loadReidDataset(await zipSource(bytesRangeReader(zip), 'damaged.zip'), { height: H, width: W });
    expect(ds.gallery.names).toEqual(['0001_c2s1_000002_01.jpg']);
    expect(ds.report.skipped).toEqual([{ path: name, split: 'gallery', reason: `${name} in damaged.zip is damaged: its CRC-32 checksum does not match the archive's directory.` }]);
  });

  it('a damaged deflate stream is skipped with a reason', async () => {
    const zip = zipSync(files, { level: 6 });
    const name = 'm/bounding_box_test/0001_c2s1_000002_01.jpg';
    const at = dataOffset(zip, name);
    zip.fill(0xff, at, at + 8);
    const ds = await loadReidDataset(await zipSource(bytesRangeReader(zip), 'damaged.zip'), { height: H, width: W });
    const s = ds.report.skipped.find((k) => k.path === name);
    expect(s?.reason).toMatch(/damaged/);
    expect(ds.gallery.names).not.toContain('0001_c2s1_000002_01.jpg');
  });

  it('reading a damaged entry directly gives a LabError (e.g. an MSMT17 list file)', async () => {
    const zip = zipSync({ 'r/list.txt': enc('a/b.jpg 1\n'.repeat(50)) }, { level: 0 });
    zip[dataOffset(zip, 'r/list.txt') + 3] ^= 1;
    const src = await zipSource(bytesRangeReader(zip), 'lists.zip');
    let err: unknown;
    try {
      await src.read('r/list.txt');
    } catch (e) {
      err = e;
    }
    expect(isLabError(err, 'bad-dataset')).toBe(true);
    expect((err as Error).message).toBe("r/list.txt in lists.zip is damaged: its CRC-32 checksum does not match the archive's directory.");
  });
});
