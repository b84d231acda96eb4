import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { zipSync } from 'fflate';
import { encodeJpeg, encodePng, resizeBilinear, type RgbImage } from '../../src/engine/data/codec';
import { loadReidDataset, MSMT_TEST_PID_OFFSET, type LoadedReidDataset } from '../../src/engine/data/market/load';
import { bytesRangeReader, memorySource, type FileSource, type RangeReader } from '../../src/engine/data/market/source';
import { zipSource } from '../../src/engine/data/market/zip';
import { nodeDatasetSource, nodeFolderSource, nodeZipSource } from '../../src/node/folder-source';
import { imageView } from '../../src/engine/data/types';
import { isLabError } from '../../src/engine/errors';

const H = 16, W = 8;

/** A solid image whose colour encodes (pid, cam, k), so pixels identify the file. */
function colourOf(pid: number, cam: number, k = 0): [number, number, number] {
  return [(pid * 37 + 40) & 255, (cam * 40 + k * 9) & 255, (pid * 11 + cam * 5 + 100) & 255];
}
function solid(rgb: [number, number, number], w = W, h = H): RgbImage {
  const data = new Uint8Array(w * h * 3);
  for (let i = 0; i < w * h; i++) data.set(rgb, i * 3);
  return { width: w, height: h, data };
}
/** A non-uniform image (for resize checks). */
function pattern(w: number, h: number, seed: number): RgbImage {
  const data = new Uint8Array(w * h * 3);
  for (let i = 0; i < data.length; i++) data[i] = (i * 13 + seed * 71) % 251;
  return { width: w, height: h, data };
}

const jpegCache = new Map<string, Uint8Array>();
/** JPEG of a solid colour (memoised: jpeg-js rebuilds its tables on every call). */
function solidJpeg(rgb: [number, number, number]): Uint8Array {
  const key = rgb.join(',');
  if (!jpegCache.has(key)) jpegCache.set(key, encodeJpeg(solid(rgb), 95));
  return jpegCache.get(key)!;
}

type Files = Record<string, Uint8Array>;
const text = (s: string) => new TextEncoder().encode(s);

/** Market-1501 layout under a top folder, JPEG images, with the usual oddities. */
function marketFiles(): Files {
  const top = 'Market-1501-v15.09.15';
  const f: Files = {};
  const jpg = (pid: number, cam: number, k: number) => solidJpeg(colourOf(pid, cam, k));
  const name = (pid: number, cam: number, k: number) => `${pid < 0 ? '-1' : String(pid).padStart(4, '0')}_c${cam}s1_00${k}451_0${k}.jpg`;
  for (const [pid, cam, k] of [[2, 1, 0], [2, 2, 1], [7, 1, 0], [7, 3, 1], [9, 4, 0], [-1, 1, 0]]) {
    f[`${top}/bounding_box_train/${name(pid, cam, k)}`] = jpg(pid, cam, k);
  }
  for (const [pid, cam, k] of [[1, 1, 0], [3, 2, 0], [4, 1, 0], [5, 1, 0]]) f[`${top}/query/${name(pid, cam, k)}`] = jpg(pid, cam, k);
  // pid 1: cross-camera matches; pid 3: one cross-camera match; pid 4: same camera only; pid 5: absent.
  for (const [pid, cam, k] of [[1, 2, 1], [1, 3, 2], [1, 1, 3], [3, 1, 1], [4, 1, 1], [0, 2, 0], [-1, 3, 0]]) {
    f[`${top}/bounding_box_test/${name(pid, cam, k)}`] = jpg(pid, cam, k);
  }
  f[`${top}/bounding_box_test/badname.jpg`] = jpg(1, 1, 9);
  f[`${top}/query/notes.txt`] = text('not an image');
  f[`${top}/bounding_box_test/Thumbs.db`] = new Uint8Array(10);
  f[`${top}/readme.txt`] = text('Market-1501');
  return f;
}

function meanColour(ds: LoadedReidDataset, split: 'train' | 'query' | 'gallery', i: number): number[] {
  const v = imageView(ds[split], i);
  const m = [0, 0, 0];
  for (let p = 0; p < v.length; p++) m[p % 3] += v[p];
  return m.map((x) => x / (v.length / 3));
}

/** Counts bytes read, to check that only needed entries are touched. */
function countingReader(inner: RangeReader): RangeReader & { bytes: number } {
  const r = { size: inner.size, bytes: 0, read: async (o: number, n: number) => { const b = await inner.read(o, n); r.bytes += b.length; return b; } };
  return r;
}

async function zipOf(files: Files, level: 0 | 6 = 6, name = 'data.zip'): Promise<FileSource> {
  return zipSource(bytesRangeReader(zipSync(files, { level })), name);
}

let tmp: string;
beforeAll(async () => { tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'reid-load-')); });
afterAll(async () => { await fs.rm(tmp, { recursive: true, force: true }); });

async function writeFolder(files: Files, dir: string): Promise<void> {
  for (const [p, b] of Object.entries(files)) {
    await fs.mkdir(path.join(dir, path.dirname(p)), { recursive: true });
    await fs.writeFile(path.join(dir, p), b);
  }
}

describe('Market-1501 from a zip', () => {
  it('loads identities, cameras, names and pixels, and reports everything it did not take', async () => {
    const ds = await loadReidDataset(await zipOf(marketFiles(), 6, 'Market-1501-v15.09.15.zip'), { height: H, width: W });
    expect(ds.name).toBe('Market-1501');
    expect(ds.report.family).toBe('market1501');
    expect(ds.report.root).toBe('Market-1501-v15.09.15');
    // Train: junk skipped (reported); sorted by file name.
    expect(Array.from(ds.train.pids)).toEqual([2, 2, 7, 7, 9]);
    expect(Array.from(ds.train.camids)).toEqual([1, 2, 1, 3, 4]);
    expect(Array.from(ds.query.pids)).toEqual([1, 3, 4, 5]);
    expect(ds.query.names).toEqual(['0001_c1s1_000451_00.jpg', '0003_c2s1_000451_00.jpg', '0004_c1s1_000451_00.jpg', '0005_c1s1_000451_00.jpg']);
    // Gallery: junk and distractor kept (the ranking handles them), sorted by name ('-1_' sorts first).
    expect(Array.from(ds.gallery.pids)).toEqual([-1, 0, 1, 1, 1, 3, 4]);
    expect(Array.from(ds.gallery.camids)).toEqual([3, 2, 1, 2, 3, 1, 1]);
    expect(ds.gallery.height).toBe(H);
    expect(ds.gallery.images.length).toBe(7 * H * W * 3);
    // Pixels: each image is its (pid, cam, k) colour, within JPEG error.
    const [pid, cam] = [ds.gallery.pids[3], ds.gallery.camids[3]];
    expect([pid, cam]).toEqual([1, 2]);
    meanColour(ds, 'gallery', 3).forEach((c, i) => expect(Math.abs(c - colourOf(1, 2, 1)[i])).toBeLessThan(4));
    meanColour(ds, 'train', 4).forEach((c, i) => expect(Math.abs(c - colourOf(9, 4, 0)[i])).toBeLessThan(4));
    // Report.
    const r = ds.report;
    expect(r.counts).toEqual({ train: 5, query: 4, gallery: 7 });
    expect(r.identities).toEqual({ train: 3, query: 4, gallery: 3 });
    expect(r.skipped.map((s) => [s.split, path.basename(s.path)]).sort()).toEqual([
      ['gallery', 'badname.jpg'], ['train', '-1_c1s1_000451_00.jpg'],
    ]);
    expect(r.skipped.find((s) => s.path.endsWith('badname.jpg'))!.reason).toMatch(/does not match/);
    expect(r.ignoredNonImages).toEqual({ count: 1, examples: ['Market-1501-v15.09.15/query/notes.txt'] });
    expect(r.queryIdsMissingFromGallery).toEqual([5]);
    expect(r.queryIdsOnlySameCamera).toEqual([4]);
    expect(r.resized).toBe(0);
    expect(r.sourceSizes).toEqual([{ width: W, height: H, count: 16 }]);
    expect(r.warnings.join(' ')).toMatch(/1 query identity is absent from the gallery/);
    expect(r.warnings.join(' ')).toMatch(/2 file\(s\) were skipped/);
  });

  it('gives the same dataset from a folder, a zip file on disk, and stored or deflated entries', async () => {
    const files = marketFiles();
    const dir = path.join(tmp, 'market');
    await writeFolder(files, dir);
    const zipPath = path.join(tmp, 'market.zip');
    await fs.writeFile(zipPath, zipSync(files, { level: 0 }));
    const fromMem = await loadReidDataset(await zipOf(files), { height: H, width: W });
    const fromDir = await loadReidDataset(await nodeFolderSource(dir), { height: H, width: W });
    const zipFile = await nodeZipSource(zipPath);
    const fromZipFile = await loadReidDataset(zipFile, { height: H, width: W });
    await zipFile.close?.();
    const auto = await nodeDatasetSource(dir);
    expect(auto.name).toBe('market');
    for (const other of [fromDir, fromZipFile]) {
      for (const s of ['train', 'query', 'gallery'] as const) {
        expect(Array.from(other[s].pids)).toEqual(Array.from(fromMem[s].pids));
        expect(other[s].names).toEqual(fromMem[s].names);
        expect(other[s].images).toEqual(fromMem[s].images);
      }
      expect(other.report.skipped.length).toBe(fromMem.report.skipped.length);
    }
  });

  it('decompresses only the entries it needs', async () => {
    const files = marketFiles();
    // Padding the training folder makes "read everything" measurably different.
    // (Never decoded, so their content does not matter.)
    for (let i = 0; i < 30; i++) files[`Market-1501-v15.09.15/bounding_box_train/0100_c1s1_0${i}0000_00.jpg`] = pattern(64, 128, i).data;
    const zip = zipSync(files, { level: 0 });
    const reader = countingReader(bytesRangeReader(zip));
    const src = await zipSource(reader, 'm.zip', { windowBytes: 4096 });
    const afterDirectory = reader.bytes;
    const decoded: string[] = [];
    const ds = await loadReidDataset(src, {
      height: H, width: W, splits: ['query', 'gallery'],
      decode: async (b, p) => { decoded.push(p); return (await import('../../src/engine/data/codec')).decodeImage(b, p); },
    });
    expect(ds.train.count).toBe(0);
    expect(decoded.every((p) => !p.includes('bounding_box_train'))).toBe(true);
    expect(decoded.length).toBe(11);
    expect(afterDirectory).toBeLessThan(zip.length);
    expect(reader.bytes).toBeLessThan(zip.length); // the training images were never read
  });

  it('subsamples test identities with a seed, among identities that can be scored', async () => {
    const files = marketFiles();
    for (let pid = 10; pid < 30; pid++) {
      // PNG bytes under .jpg names: the decoder goes by content (and PNG encodes 80x faster).
      files[`M/query/00${pid}_c1s1_000001_00.jpg`] = encodePng(solid(colourOf(pid, 1)));
      files[`M/bounding_box_test/00${pid}_c2s1_000001_00.jpg`] = encodePng(solid(colourOf(pid, 2)));
    }
    const clean: Files = {};
    for (const [p, b] of Object.entries(files)) if (p.startsWith('M/')) clean[p] = b;
    clean['M/bounding_box_test/0000_c1s1_000001_00.jpg'] = solidJpeg([0, 0, 0]);
    const a = await loadReidDataset(await zipOf(clean), { height: H, width: W, testIdentities: 5, seed: 3 });
    const b = await loadReidDataset(await zipOf(clean), { height: H, width: W, testIdentities: 5, seed: 3 });
    const c = await loadReidDataset(await zipOf(clean), { height: H, width: W, testIdentities: 5, seed: 4 });
    const ids = (d: LoadedReidDataset) => [...new Set(d.query.pids)].sort((x, y) => x - y);
    expect(ids(a)).toHaveLength(5);
    expect(ids(a)).toEqual(ids(b));
    expect(ids(a)).not.toEqual(ids(c));
    expect([...new Set(a.gallery.pids)].sort((x, y) => x - y)).toEqual(ids(a)); // only chosen ids
    expect(a.report.subsample).toEqual({ testIdentities: 5, of: 20, seed: 3 });
    expect(a.name).toBe('Market-1501 (5 test identities)');
    const all = await loadReidDataset(await zipOf(clean), { height: H, width: W, testIdentities: 50 });
    expect(all.report.subsample!.testIdentities).toBe(20);
    expect(all.report.warnings.join(' ')).toMatch(/only 20 can be scored/);
  });

  it('limits training images by whole identities', async () => {
    const ds = await loadReidDataset(await zipOf(marketFiles()), { height: H, width: W, maxTrainImages: 3, seed: 1 });
    const counts = new Map<number, number>();
    ds.train.pids.forEach((p) => counts.set(p, (counts.get(p) ?? 0) + 1));
    expect(ds.train.count).toBeLessThanOrEqual(3);
    for (const [p, n] of counts) expect(n).toBe(p === 9 ? 1 : 2); // identities are kept whole
    expect(ds.report.trainLimit).toMatchObject({ images: ds.train.count, ofImages: 5 });
  });
});

describe('other dataset families', () => {
  it('DukeMTMC-reID', async () => {
    const f: Files = {
      'DukeMTMC-reID/bounding_box_train/0005_c2_f0046985.jpg': solidJpeg(colourOf(5, 2)),
      'DukeMTMC-reID/query/0011_c1_f0030011.jpg': solidJpeg(colourOf(11, 1)),
      'DukeMTMC-reID/bounding_box_test/0011_c5_f0031111.jpg': solidJpeg(colourOf(11, 5)),
      'DukeMTMC-reID/bounding_box_test/0012_c8_f0031111.jpg': solidJpeg(colourOf(12, 8)),
    };
    const ds = await loadReidDataset(await zipOf(f), { height: H, width: W });
    expect(ds.name).toBe('DukeMTMC-reID');
    expect(Array.from(ds.gallery.camids)).toEqual([5, 8]);
    expect(Array.from(ds.train.pids)).toEqual([5]);
  });

  it('CUHK03-NP: picks detected/labeled, PNG pixels exact, odd sizes resized and reported', async () => {
    const f: Files = {};
    for (const v of ['detected', 'labeled']) {
      const k = v === 'detected' ? 0 : 1;
      f[`cuhk03-np/${v}/bounding_box_train/0003_c1_1.png`] = encodePng(solid(colourOf(3, 1, k)));
      f[`cuhk03-np/${v}/query/1367_c1_3.png`] = encodePng(pattern(W, H, k));
      f[`cuhk03-np/${v}/bounding_box_test/1367_c2_4.png`] = encodePng(pattern(20, 37, k)); // odd size
    }
    const det = await loadReidDataset(await zipOf(f, 0), { height: H, width: W });
    expect(det.name).toBe('CUHK03-NP (detected)');
    expect(Array.from(imageView(det.query, 0))).toEqual(Array.from(pattern(W, H, 0).data));
    expect(Array.from(imageView(det.gallery, 0))).toEqual(Array.from(resizeBilinear(pattern(20, 37, 0), W, H).data));
    expect(det.report.resized).toBe(1);
    expect(det.report.sourceSizes).toContainEqual({ width: 20, height: 37, count: 1 });
    expect(det.report.warnings.join(' ')).toMatch(/1 image\(s\) were not 16 x 8 and were resized/);
    const lab = await loadReidDataset(await zipOf(f), { height: H, width: W, cuhk03Variant: 'labeled' });
    expect(lab.name).toBe('CUHK03-NP (labeled)');
    expect(Array.from(imageView(lab.query, 0))).toEqual(Array.from(pattern(W, H, 1).data));
  });

  it('MSMT17 from list files: labels, cameras, val, and list entries that are missing or malformed', async () => {
    const r = 'MSMT17_V1';
    const img = (pid: number, cam: number) => solidJpeg(colourOf(pid, cam));
    const f: Files = {
      [`${r}/train/0000/0000_000_01_0303morning_0015_0.jpg`]: img(0, 1),
      [`${r}/train/0000/0000_001_03_0303morning_0016_0.jpg`]: img(0, 3),
      [`${r}/train/0001/0001_000_02_0303noon_0100_0.jpg`]: img(1, 2),
      [`${r}/test/0000/0000_000_05_0113morning_0001_0.jpg`]: img(100, 5),
      [`${r}/test/0000/0000_001_15_0113noon_0002_0.jpg`]: img(100, 15),
      [`${r}/test/0001/0001_000_07_0113noon_0003_0.jpg`]: img(101, 7),
      [`${r}/list_train.txt`]: text('0000/0000_000_01_0303morning_0015_0.jpg 0\n0000/0000_001_03_0303morning_0016_0.jpg 0\n'),
      [`${r}/list_val.txt`]: text('0001/0001_000_02_0303noon_0100_0.jpg 1\n'),
      [`${r}/list_query.txt`]: text('0000/0000_000_05_0113morning_0001_0.jpg 0\r\nthis line is broken\r\n'),
      [`${r}/list_gallery.txt`]: text('0000/0000_001_15_0113noon_0002_0.jpg 0\n0001/0001_000_07_0113noon_0003_0.jpg 1\n0002/0002_000_04_missing_0004_0.jpg 2\n'),
    };
    const ds = await loadReidDataset(await zipOf(f), { height: H, width: W });
    expect(ds.name).toBe('MSMT17');
    expect(Array.from(ds.train.pids)).toEqual([1, 1]);
    expect(Array.from(ds.train.camids)).toEqual([1, 3]);
    expect(Array.from(ds.query.pids)).toEqual([MSMT_TEST_PID_OFFSET + 1]);
    expect(Array.from(ds.query.camids)).toEqual([5]);
    expect(Array.from(ds.gallery.pids)).toEqual([MSMT_TEST_PID_OFFSET + 1, MSMT_TEST_PID_OFFSET + 2]);
    expect(Array.from(ds.gallery.camids)).toEqual([15, 7]);
    expect(ds.gallery.names).toEqual(['0000/0000_001_15_0113noon_0002_0.jpg', '0001/0001_000_07_0113noon_0003_0.jpg']);
    meanColour(ds, 'gallery', 1).forEach((c, i) => expect(Math.abs(c - colourOf(101, 7)[i])).toBeLessThan(4));
    const reasons = ds.report.skipped.map((s) => `${s.path}: ${s.reason}`).sort();
    expect(reasons).toEqual([
      '0002/0002_000_04_missing_0004_0.jpg: listed in list_gallery.txt but not present',
      `${r}/list_query.txt:2: line is not "<path> <label>"`,
    ]);
    const withVal = await loadReidDataset(await zipOf(f), { height: H, width: W, includeVal: true });
    expect(Array.from(withVal.train.pids)).toEqual([1, 1, 2]);
  });
});

describe('bad input', () => {
  const expectBadDataset = async (p: Promise<unknown>, pattern: RegExp) => {
    let err: unknown;
    try { await p; } catch (e) { err = e; }
    expect(isLabError(err, 'bad-dataset'), String(err)).toBe(true);
    expect((err as Error).message).toMatch(pattern);
  };

  it('a zip that is not a ReID dataset says what it found', async () => {
    const f: Files = { 'photos/a.jpg': solidJpeg([1, 2, 3]), 'photos/b.jpg': solidJpeg([1, 2, 3]), 'query/x.jpg': new Uint8Array(3), 'c.txt': text('') };
    await expectBadDataset(loadReidDataset(await zipOf(f, 6, 'holiday.zip')),
      /^holiday\.zip does not look like a ReID dataset: expected a bounding_box_test\/ folder .* found: c\.txt, photos\/, query\/\. There is a query\/ folder but no bounding_box_test\/ folder/);
  });

  it('a split whose names all fail to parse is an error that lists them', async () => {
    const f: Files = {
      'D/query/person1.jpg': solidJpeg([1, 2, 3]), 'D/query/person2.jpg': solidJpeg([1, 2, 3]),
      'D/bounding_box_test/0001_c2s1_000001_00.jpg': solidJpeg([1, 2, 3]),
    };
    await expectBadDataset(loadReidDataset(await zipOf(f), { height: H, width: W }),
      /the query split \(query\/\) has no usable image; 2 file\(s\) were rejected, e\.g\. person1\.jpg \(name does not match/);
  });

  it('undecodable images are skipped and reported; a split left empty is an error', async () => {
    const f: Files = {
      'D/query/0001_c1s1_000001_00.jpg': solidJpeg([1, 2, 3]),
      'D/bounding_box_test/0001_c2s1_000001_00.jpg': solidJpeg([9, 9, 9]),
      'D/bounding_box_test/0001_c3s1_000001_00.jpg': text('truncated or not an image'),
    };
    const ds = await loadReidDataset(await zipOf(f), { height: H, width: W });
    expect(ds.gallery.count).toBe(1);
    expect(Array.from(ds.gallery.camids)).toEqual([2]);
    expect(ds.gallery.names).toEqual(['0001_c2s1_000001_00.jpg']);
    meanColour(ds, 'gallery', 0).forEach((c) => expect(Math.abs(c - 9)).toBeLessThan(3));
    expect(ds.report.skipped).toHaveLength(1);
    expect(ds.report.skipped[0].reason).toMatch(/neither a JPEG nor a PNG/);
    delete f['D/bounding_box_test/0001_c2s1_000001_00.jpg'];
    await expectBadDataset(loadReidDataset(await zipOf(f), { height: H, width: W }), /none of the gallery images could be decoded/);
  });

  it('a dataset where no query can be scored is an error', async () => {
    const f: Files = {
      'D/query/0001_c1s1_000001_00.jpg': solidJpeg([1, 2, 3]),
      'D/bounding_box_test/0001_c1s1_000002_00.jpg': solidJpeg([1, 2, 3]),
      'D/bounding_box_test/0002_c2s1_000002_00.jpg': solidJpeg([1, 2, 3]),
    };
    await expectBadDataset(loadReidDataset(memorySource(f, 'tiny')), /tiny: no query identity has a gallery image from another camera/);
  });

  // Issue 20 item 13: "none of the query images could be decoded, e.g. ." named nothing.
  describe('a split left empty names its folder or file, never "e.g. ."', () => {
    const neverEmptyExample = (message: string) => expect(message).not.toMatch(/e\.g\.\s*[.(]/);
    const messageOf = async (p: Promise<unknown>): Promise<string> => {
      try {
        await p;
      } catch (e) {
        expect(isLabError(e, 'bad-dataset'), String(e)).toBe(true);
        return (e as Error).message;
      }
      throw new Error('expected a bad-dataset error');
    };

    it('a query folder holding no image files names the folder', async () => {
      const f: Files = { 'D/query/readme.txt': text('no images here'), 'D/bounding_box_test/0001_c2s1_000001_00.jpg': solidJpeg([1, 2, 3]) };
      const m = await messageOf(loadReidDataset(memorySource(f, 'empty-query'), { height: H, width: W }));
      expect(m).toBe('empty-query: the query split (query/) has no usable image.');
    });

    it('a query folder of undecodable images names a file and why', async () => {
      const f: Files = { 'D/query/0001_c1s1_000001_00.jpg': text('not a jpeg'), 'D/bounding_box_test/0001_c2s1_000001_00.jpg': solidJpeg([1, 2, 3]) };
      const m = await messageOf(loadReidDataset(memorySource(f, 'bad-query'), { height: H, width: W }));
      expect(m).toMatch(/^bad-query: none of the query images could be decoded, e\.g\. 0001_c1s1_000001_00\.jpg \(.*neither a JPEG nor a PNG/);
      neverEmptyExample(m);
    });

    it('a test-identity subset where no query can be scored says why (it said "e.g. .")', async () => {
      // Images in both folders, but the only query identity's gallery image shares its camera:
      // the seeded subset is empty before any decoding.
      const f: Files = {
        'D/query/0001_c1s1_000001_00.jpg': solidJpeg([1, 2, 3]),
        'D/bounding_box_test/0001_c1s1_000002_00.jpg': solidJpeg([1, 2, 3]),
        'D/bounding_box_test/0002_c2s1_000002_00.jpg': solidJpeg([1, 2, 3]),
      };
      const m = await messageOf(loadReidDataset(memorySource(f, 'tiny'), { height: H, width: W, testIdentities: 5 }));
      expect(m).toBe('tiny: no query identity has a gallery image from another camera, so nothing can be evaluated.');
    });

    it('a list entry whose file name is empty (a path ending in /) is named by its path', async () => {
      const f: Files = {
        'MSMT17_V1/test/0000/0000_001_15_0113noon_0002_0.jpg': solidJpeg([1, 2, 3]),
        'MSMT17_V1/list_train.txt': text(''),
        'MSMT17_V1/list_query.txt': text('0000/ 0\n'),
        'MSMT17_V1/list_gallery.txt': text('0000/0000_001_15_0113noon_0002_0.jpg 0\n'),
      };
      const m = await messageOf(loadReidDataset(memorySource(f, 'msmt'), { height: H, width: W }));
      expect(m).toBe('msmt: the query split (list_query.txt) has no usable image; 1 file(s) were rejected, e.g. 0000/ (listed in list_query.txt but not present).');
    });
  });

  it('cancels between images', async () => {
    let n = 0;
    await expect(loadReidDataset(await zipOf(marketFiles()), { height: H, width: W, shouldCancel: () => ++n > 3 }))
      .rejects.toSatisfy((e: unknown) => isLabError(e, 'cancelled'));
  });

  it('a path that is neither a folder nor a zip', async () => {
    await expectBadDataset(nodeDatasetSource(path.join(tmp, 'nope')), /Nothing found at/);
    const notZip = path.join(tmp, 'x.zip');
    await fs.writeFile(notZip, text('plain text, not a zip archive at all'));
    await expectBadDataset(nodeZipSource(notZip), /x\.zip is not a readable zip archive/);
  });
});

describe('end to end: archive -> loader -> evaluateModel', () => {
  it('scores 1.0 when every query image reappears in the gallery under another camera', async () => {
    const tf = await import('@tensorflow/tfjs');
    await import('@tensorflow/tfjs-backend-wasm');
    await tf.setBackend('wasm');
    await tf.ready();
    const { ReidModel } = await import('../../src/engine/model/model');
    const { buildSpec } = await import('../../src/engine/model/spec');
    const { evaluateModel } = await import('../../src/engine/eval/evaluate');
    const f: Files = {};
    for (let pid = 1; pid <= 6; pid++) {
      const bytes = encodePng(pattern(W, H, pid));
      f[`Market/query/000${pid}_c1s1_000001_00.jpg`] = bytes;
      f[`Market/bounding_box_test/000${pid}_c2s1_000001_00.jpg`] = bytes; // same picture, other camera
      f[`Market/bounding_box_test/000${pid}_c3s1_000001_00.jpg`] = encodePng(pattern(W, H, pid + 50));
    }
    f['Market/bounding_box_test/0000_c4s1_000001_00.jpg'] = encodePng(pattern(W, H, 99));
    const ds = await loadReidDataset(await zipOf(f), { height: H, width: W });
    const model = ReidModel.init(buildSpec({ depth: 18, widthMultiplier: 0.125, inputHeight: H, inputWidth: W }), 1);
    try {
      const r = await evaluateModel(model, ds, { metric: 'cosine' });
      expect(r.numValidQueries).toBe(6);
      expect(r.rank1).toBe(1);
      // The other same-identity image ranks somewhere below: AP = (1 + 2/r) / 2 <= 1.
      expect(r.mAP).toBeGreaterThan(0.5);
      expect(r.mAP).toBeLessThanOrEqual(1);
    } finally {
      model.dispose();
    }
  });
});
