import { describe, expect, it } from 'vitest';
import { zipSync } from 'fflate';
import { nameStyle, parseListLine, parseMarketStyleName, parseMsmtCamera } from '../../src/engine/data/market/names';
import { describeTop, detectLayout } from '../../src/engine/data/market/layout';
import { zipSource } from '../../src/engine/data/market/zip';
import { bytesRangeReader } from '../../src/engine/data/market/source';
import { isLabError } from '../../src/engine/errors';

describe('file names', () => {
  it('parses Market-1501 names, junk and distractors', () => {
    expect(parseMarketStyleName('0002_c1s1_000451_03.jpg')).toEqual({ pid: 2, camid: 1, sequence: 1, frame: 451, box: 3 });
    expect(parseMarketStyleName('query/-1_c3s2_012345_00.jpg')).toMatchObject({ pid: -1, camid: 3 });
    expect(parseMarketStyleName('0000_c6s4_002427_05.jpg')).toMatchObject({ pid: 0, camid: 6 });
    expect(nameStyle('0002_c1s1_000451_03.jpg')).toBe('market');
  });

  it('parses DukeMTMC-reID and CUHK03-NP names', () => {
    expect(parseMarketStyleName('0005_c2_f0046985.jpg')).toEqual({ pid: 5, camid: 2, frame: 46985 });
    expect(nameStyle('0005_c2_f0046985.jpg')).toBe('duke');
    expect(parseMarketStyleName('1367_c1_3.png')).toEqual({ pid: 1367, camid: 1 });
    expect(nameStyle('1367_c1_3.png')).toBe('plain');
  });

  it('rejects names that do not parse', () => {
    for (const n of ['Thumbs.db', 'c1_0002.jpg', '0002-c1s1.jpg', '0002_c0s1_000451_03.jpg', '-2_c1s1_000001_00.jpg', 'abcd_c1.jpg']) {
      expect(parseMarketStyleName(n), n).toBeNull();
    }
  });

  it('reads MSMT17 cameras and list lines', () => {
    expect(parseMsmtCamera('0000/0000_000_01_0303morning_0015_0.jpg')).toBe(1);
    expect(parseMsmtCamera('3059_012_15_0113afternoon_1234_1.jpg')).toBe(15);
    expect(parseMsmtCamera('0000_000_00_x.jpg')).toBeNull();
    expect(parseMsmtCamera('notes.jpg')).toBeNull();
    expect(parseListLine('0000/0000_000_01_0303morning_0015_0.jpg 0\r')).toEqual({ path: '0000/0000_000_01_0303morning_0015_0.jpg', label: 0 });
    expect(parseListLine('   ')).toBeNull();
    expect(parseListLine('path-without-label.jpg')).toBeNull();
    expect(parseListLine('a.jpg -3')).toBeNull();
  });
});

describe('detectLayout', () => {
  const market = ['M/bounding_box_train/0002_c1s1_000451_03.jpg', 'M/query/0001_c1s1_001051_00.jpg', 'M/bounding_box_test/0001_c2s1_000301_01.jpg', 'M/readme.txt'];

  it('finds a Market root under a top folder', () => {
    expect(detectLayout(market)).toEqual({
      kind: 'market-style', family: 'market1501', root: 'M',
      dirs: { train: 'M/bounding_box_train/', query: 'M/query/', gallery: 'M/bounding_box_test/' },
    });
  });

  it('finds splits at the top level and tolerates a missing train folder', () => {
    const l = detectLayout(['query/0005_c1_f0000001.jpg', 'bounding_box_test/0005_c2_f0000002.jpg']);
    expect(l).toMatchObject({ family: 'dukemtmc-reid', root: '', dirs: { train: null, query: 'query/', gallery: 'bounding_box_test/' } });
  });

  it('picks the CUHK03-NP variant, detected by default', () => {
    const paths = ['detected', 'labeled'].flatMap((v) => ['query/0001_c1_1.png', 'bounding_box_test/0001_c2_1.png'].map((p) => `cuhk03-np/${v}/${p}`));
    expect(detectLayout(paths)).toMatchObject({ family: 'cuhk03-np', root: 'cuhk03-np/detected' });
    expect(detectLayout(paths, { cuhk03Variant: 'labeled' })).toMatchObject({ root: 'cuhk03-np/labeled' });
  });

  it('finds MSMT17 by its list files', () => {
    const l = detectLayout(['MSMT17_V1/list_query.txt', 'MSMT17_V1/list_gallery.txt', 'MSMT17_V1/list_train.txt', 'MSMT17_V1/test/0000/a.jpg']);
    expect(l).toEqual({
      kind: 'msmt17', family: 'msmt17', root: 'MSMT17_V1',
      lists: { train: 'MSMT17_V1/list_train.txt', val: null, query: 'MSMT17_V1/list_query.txt', gallery: 'MSMT17_V1/list_gallery.txt' },
    });
  });

  it('explains what it found when the files are not a ReID dataset', () => {
    let err: unknown;
    try { detectLayout(['holiday/photos/a.jpg', 'holiday/photos/b.jpg', 'holiday/query/x.jpg', 'holiday/notes.txt'], { sourceName: 'holiday.zip' }); } catch (e) { err = e; }
    expect(isLabError(err, 'bad-dataset')).toBe(true);
    const msg = (err as Error).message;
    expect(msg).toContain('holiday.zip does not look like a ReID dataset');
    expect(msg).toContain('found: holiday/notes.txt, holiday/photos/, holiday/query/');
    expect(msg).toContain('no bounding_box_test/ folder');
  });

  it('refuses to guess between two datasets', () => {
    const two = [...market, ...market.map((p) => p.replace('M/', 'N/'))];
    expect(() => detectLayout(two)).toThrowError(/more than one ReID dataset \("M", "N"\)/);
    expect(detectLayout(two, { root: 'N/' })).toMatchObject({ root: 'N' });
  });

  it('lists at most a dozen names', () => {
    const many = Array.from({ length: 20 }, (_, i) => `f${String(i).padStart(2, '0')}.txt`);
    expect(describeTop(many)).toMatch(/f11\.txt, and 8 more$/);
  });
});

describe('zipSource', () => {
  const files = { 'top/a.txt': new TextEncoder().encode('hello'), 'top/sub/b.bin': Uint8Array.from({ length: 5000 }, (_, i) => i % 7) };

  it('reads stored and deflated entries, skipping folders and clutter', async () => {
    for (const level of [0, 6] as const) {
      const zip = zipSync({ ...files, '__MACOSX/top/._a.txt': new Uint8Array(3), 'top/.DS_Store': new Uint8Array(1) }, { level });
      const src = await zipSource(bytesRangeReader(zip), 't.zip');
      expect((await src.list()).map((e) => e.path)).toEqual(['top/a.txt', 'top/sub/b.bin']);
      expect((await src.list())[1].size).toBe(5000);
      expect(new TextDecoder().decode(await src.read('top/a.txt'))).toBe('hello');
      expect(Array.from(await src.read('top/sub/b.bin'))).toEqual(Array.from(files['top/sub/b.bin']));
    }
  });

  it('rejects files that are not zips with a clear sentence', async () => {
    for (const bytes of [new Uint8Array(10), Uint8Array.from({ length: 5000 }, (_, i) => (i * 31) & 255)]) {
      await expect(zipSource(bytesRangeReader(bytes), 'photo.jpg')).rejects.toSatisfy(
        (e: unknown) => isLabError(e, 'bad-dataset') && /photo\.jpg is not a readable zip archive/.test((e as Error).message),
      );
    }
    // A truncated archive loses its end record.
    const zip = zipSync(files);
    await expect(zipSource(bytesRangeReader(zip.subarray(0, zip.length - 30)), 'cut.zip')).rejects.toThrow(/cut\.zip is not a readable zip archive/);
  });
});

describe('browser sources (with Node 20 File/Blob)', () => {
  it('walks a dropped folder through every readEntries batch', async () => {
    const { collectDroppedFiles } = await import('../../src/engine/data/market/dropped');
    const file = (name: string) => ({ isFile: true, isDirectory: false, name, file: (ok: (f: File) => void) => ok(new File([name], name)) });
    const dir = (name: string, children: object[]) => ({
      isFile: false, isDirectory: true, name,
      createReader: () => {
        let i = 0;
        // Two entries per call, like the browser's 100-entry batches.
        return { readEntries: (ok: (es: object[]) => void) => { ok(children.slice(i, i + 2)); i += 2; } };
      },
    });
    const tree = dir('Market', [dir('query', [file('a.jpg'), file('b.jpg'), file('c.jpg')]), file('readme.txt')]);
    const files = await collectDroppedFiles([tree as never]);
    expect(files.map((f) => f.path)).toEqual(['Market/query/a.jpg', 'Market/query/b.jpg', 'Market/query/c.jpg', 'Market/readme.txt']);
    expect(await files[2].file.text()).toBe('c.jpg');
  });

  it('reads a FileList by webkitRelativePath and a zip Blob by slices', async () => {
    const { fileListSource, blobRangeReader } = await import('../../src/engine/data/market/source');
    const f = new File(['xyz'], '0001_c1s1_000001_00.jpg');
    Object.defineProperty(f, 'webkitRelativePath', { value: 'Market/query/0001_c1s1_000001_00.jpg' });
    const src = fileListSource([f]);
    expect(src.name).toBe('Market');
    expect(await src.list()).toEqual([{ path: 'Market/query/0001_c1s1_000001_00.jpg', size: 3 }]);
    expect(new TextDecoder().decode(await src.read('Market/query/0001_c1s1_000001_00.jpg'))).toBe('xyz');
    const zip = zipSync({ 'a/b.txt': new TextEncoder().encode('inside') });
    const z = await zipSource(blobRangeReader(new Blob([zip])), 'x.zip');
    expect(new TextDecoder().decode(await z.read('a/b.txt'))).toBe('inside');
  });
});

/** A stored-only archive written the ZIP64 way (as zip tools do past 65,535 entries or 4 GiB). */
function zip64(files: Record<string, Uint8Array>): Uint8Array {
  const parts: Uint8Array[] = [];
  let offset = 0;
  const central: Uint8Array[] = [];
  const push = (b: Uint8Array) => { parts.push(b); offset += b.length; };
  const le = (n: number, bytes: number) => Uint8Array.from({ length: bytes }, (_, i) => Math.floor(n / 2 ** (8 * i)) & 255);
  const cat = (...xs: Uint8Array[]) => { const o = new Uint8Array(xs.reduce((n, x) => n + x.length, 0)); let p = 0; for (const x of xs) { o.set(x, p); p += x.length; } return o; };
  for (const [name, data] of Object.entries(files)) {
    const n = new TextEncoder().encode(name);
    const local = offset;
    push(cat(le(0x04034b50, 4), le(45, 2), le(0, 2), le(0, 2), le(0, 4), le(0, 4), le(data.length, 4), le(data.length, 4), le(n.length, 2), le(0, 2), n, data));
    const extra = cat(le(1, 2), le(24, 2), le(data.length, 8), le(data.length, 8), le(local, 8));
    central.push(cat(le(0x02014b50, 4), le(45, 2), le(45, 2), le(0, 2), le(0, 2), le(0, 4), le(0, 4),
      le(0xffffffff, 4), le(0xffffffff, 4), le(n.length, 2), le(extra.length, 2), le(0, 2), le(0, 2), le(0, 2), le(0, 4), le(0xffffffff, 4), n, extra));
  }
  const cdStart = offset;
  for (const c of central) push(c);
  const cdSize = offset - cdStart;
  const z64 = offset;
  const count = Object.keys(files).length;
  push(cat(le(0x06064b50, 4), le(44, 8), le(45, 2), le(45, 2), le(0, 4), le(0, 4), le(count, 8), le(count, 8), le(cdSize, 8), le(cdStart, 8)));
  push(cat(le(0x07064b50, 4), le(0, 4), le(z64, 8), le(1, 4)));
  push(cat(le(0x06054b50, 4), le(0, 2), le(0, 2), le(0xffff, 2), le(0xffff, 2), le(0xffffffff, 4), le(0xffffffff, 4), le(0, 2)));
  return cat(...parts);
}

describe('zipSource ZIP64', () => {
  it('reads entries whose sizes and offsets live in ZIP64 records', async () => {
    const files = { 'MSMT17_V1/list_query.txt': new TextEncoder().encode('0000/a.jpg 0\n'), 'MSMT17_V1/test/0000/a.jpg': Uint8Array.from([1, 2, 3, 4, 5]) };
    const src = await zipSource(bytesRangeReader(zip64(files)), 'big.zip');
    expect(await src.list()).toEqual([{ path: 'MSMT17_V1/list_query.txt', size: 13 }, { path: 'MSMT17_V1/test/0000/a.jpg', size: 5 }]);
    expect(Array.from(await src.read('MSMT17_V1/test/0000/a.jpg'))).toEqual([1, 2, 3, 4, 5]);
    expect(new TextDecoder().decode(await src.read('MSMT17_V1/list_query.txt'))).toBe('0000/a.jpg 0\n');
  });
});
