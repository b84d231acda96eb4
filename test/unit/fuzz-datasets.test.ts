/**
 * Fuzzing dataset loading: zip archives of a tiny Market-1501 layout (byte mutations,
 * truncation, renamed entries, stored and deflated), and dataset file names (random strings and
 * near misses such as 0002_c1s1_000451_03.jpeg, -1_c7..., 99999_c1..., 2^31 identities).
 *
 * Correct outcomes:
 * - a LabError with a readable message (an archive that is not a zip, a layout with no usable
 *   query or gallery image, ...);
 * - a loaded dataset in which every image's identity and camera are what its file name says,
 *   every image is the one its name was written with (same colour) or the file was reported as
 *   skipped with a reason, and the report's counts add up. Damaged bytes must never load as a
 *   different image silently.
 * - for names: the parser's (pid, camid) equals the label worked out by hand for the near miss
 *   (or null when the name must be refused), and random strings never throw.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { zipSync } from 'fflate';
import { encodeJpeg, type RgbImage } from '../../src/engine/data/codec';
import { loadReidDataset, type LoadedReidDataset } from '../../src/engine/data/market/load';
import { bytesRangeReader, memorySource } from '../../src/engine/data/market/source';
import { zipSource } from '../../src/engine/data/market/zip';
import { baseName, nameStyle, parseListLine, parseMarketStyleName, parseMsmtCamera } from '../../src/engine/data/market/names';
import { imageView } from '../../src/engine/data/types';
import { Prng } from '../../src/engine/util/prng';
import { fuzzCase, newTally, summarize, verify, type Tally } from './fuzz/harness';
import { mutateBytes, nearMissName, randomName } from './fuzz/mutators';

const H = 16;
const W = 8;
const TOP = 'Market-1501-v15.09.15';
const tallies: Tally[] = [];

afterAll(() => {
  for (const t of tallies) console.info(`[fuzz] ${summarize(t)}`);
});

/** A colour per (pid, cam, k), so an image's pixels say which file it was. */
function colourOf(pid: number, cam: number, k: number): [number, number, number] {
  return [(pid * 37 + 40 + k * 50) & 255, (cam * 40 + 20) & 255, (pid * 11 + k * 23 + 100) & 255];
}

function solidJpeg(rgb: [number, number, number]): Uint8Array {
  const data = new Uint8Array(W * H * 3);
  for (let i = 0; i < W * H; i++) data.set(rgb, i * 3);
  const img: RgbImage = { width: W, height: H, data };
  return encodeJpeg(img, 95);
}

const marketName = (pid: number, cam: number, k: number, ext = 'jpg') => `${pid < 0 ? '-1' : String(pid).padStart(4, '0')}_c${cam}s1_00${k}451_0${k + 1}.${ext}`;

/** File name -> the colour its image was written with. */
const colours = new Map<string, [number, number, number]>();
function marketFiles(): Record<string, Uint8Array> {
  const f: Record<string, Uint8Array> = {};
  const add = (dir: string, pid: number, cam: number, k: number) => {
    const name = marketName(pid, cam, k);
    const c = colourOf(pid, cam, k);
    colours.set(name, c);
    f[`${TOP}/${dir}/${name}`] = solidJpeg(c);
  };
  for (const pid of [2, 4, 6, 8]) for (const cam of [1, 2]) add('bounding_box_train', pid, cam, 0);
  for (const pid of [1, 3, 5]) add('query', pid, 1, 0);
  for (const pid of [1, 3, 5]) for (const cam of [2, 3]) add('bounding_box_test', pid, cam, 1);
  add('bounding_box_test', 0, 4, 2);
  add('bounding_box_test', -1, 5, 3);
  f[`${TOP}/readme.txt`] = new TextEncoder().encode('Market-1501 (tiny fuzz copy)');
  return f;
}

const files = marketFiles();
const zips = { deflated: zipSync(files, { level: 6 }), stored: zipSync(files, { level: 0 }) };

function meanColour(ds: LoadedReidDataset, split: 'train' | 'query' | 'gallery', i: number): number[] {
  const v = imageView(ds[split], i);
  const m = [0, 0, 0];
  for (let p = 0; p < v.length; p++) m[p % 3] += v[p];
  return m.map((x) => x / (v.length / 3));
}

/**
 * A loaded dataset is right: labels from names, images with their own colour (JPEG of a solid
 * colour decodes within a few levels), counts consistent with the report.
 */
function verifyDataset(ds: LoadedReidDataset, knownNames: ReadonlySet<string>): string {
  let altered = 0;
  let renamed = 0;
  for (const s of ['train', 'query', 'gallery'] as const) {
    const split = ds[s];
    verify(ds.report.counts[s] === split.count, `${s}: report says ${ds.report.counts[s]} images, the split has ${split.count}`);
    verify(split.images.length === split.count * H * W * 3 && split.pids.length === split.count && split.camids.length === split.count, `${s}: buffer sizes do not match the count`);
    for (let i = 0; i < split.count; i++) {
      const name = split.names![i];
      // A damaged central directory can rename an entry; what still parses loads as what the
      // archive now says (its label must follow the new name; its pixels cannot be checked).
      if (!knownNames.has(name)) renamed++;
      const p = parseMarketStyleName(name);
      verify(p && p.pid === split.pids[i] && p.camid === split.camids[i], `${s}: ${name} labelled (${split.pids[i]}, ${split.camids[i]})`);
      const c = colours.get(name);
      if (c) {
        const m = meanColour(ds, s, i);
        if (m.some((x, k) => Math.abs(x - c[k]) > 6)) altered++;
      }
    }
  }
  for (const k of ds.report.skipped) verify(k.reason.trim().length > 0, `skipped ${k.path} without a reason`);
  verify(altered === 0, `${altered} image(s) loaded with other pixels than their file was written with, and were not reported`);
  if (renamed > 0) return 'loaded, an entry name damaged into another valid name';
  return ds.report.skipped.length > 0 ? 'loaded, damaged files reported as skipped' : 'loaded intact';
}

async function loadZip(bytes: Uint8Array, names: ReadonlySet<string>): Promise<string> {
  const src = await zipSource(bytesRangeReader(bytes), 'fuzz.zip');
  return verifyDataset(await loadReidDataset(src, { height: H, width: W }), names);
}

const allNames = new Set(Object.keys(files).map(baseName));

describe('fuzz: zip archives', () => {
  it('byte mutations of stored and deflated archives (240 cases)', async () => {
    const t = newTally('zip bytes');
    tallies.push(t);
    const rng = new Prng(1501);
    for (let i = 0; i < 240; i++) {
      const r = rng.fork(i);
      const kind = i % 2 === 0 ? 'deflated' : 'stored';
      const m = mutateBytes(zips[kind], r);
      await fuzzCase(t, `zip case ${i} (${kind})`, m.op, () => loadZip(m.value, allNames));
    }
    expect(t.failures).toEqual([]);
  });

  it('renamed entries (100 cases)', async () => {
    const t = newTally('zip renamed entries');
    tallies.push(t);
    const rng = new Prng(1502);
    const paths = Object.keys(files);
    for (let i = 0; i < 100; i++) {
      const r = rng.fork(i);
      const renamed: Record<string, Uint8Array> = { ...files };
      let op = '';
      for (let k = r.int(1, 3); k > 0; k--) {
        const from = r.pick(paths);
        if (!(from in renamed)) continue;
        const dir = from.slice(0, from.lastIndexOf('/') + 1);
        const e = r.int(0, 3);
        const to =
          e === 0 ? dir + nearMissName(r).name : e === 1 ? dir + randomName(r) : e === 2 ? from.replace(`${TOP}/`, '') : from.replace(/bounding_box_test|query|bounding_box_train/, r.pick(['query', 'bounding_box_test', 'Query', 'bounding_box_test/extra']));
        op = ['near-miss name', 'random name', 'moved out of the root', 'moved to another split'][e];
        const bytes = renamed[from];
        delete renamed[from];
        if (to.replace(/\/+$/, '') !== '') renamed[to] = bytes;
      }
      let zip: Uint8Array;
      try {
        zip = zipSync(renamed, { level: 6 });
      } catch {
        continue; // a name fflate cannot store
      }
      const names = new Set(Object.keys(renamed).map(baseName));
      await fuzzCase(t, `rename case ${i}`, op, () => loadZip(zip, names));
    }
    expect(t.failures).toEqual([]);
  });
});

const INT32_MAX = 2 ** 31 - 1;

describe('fuzz: dataset file names', () => {
  it('random strings never throw; what parses is a well-formed label (400 cases)', async () => {
    const t = newTally('random file names');
    tallies.push(t);
    const rng = new Prng(4);
    for (let i = 0; i < 400; i++) {
      const r = rng.fork(i);
      // Half the cases start from a valid prefix so the parser gets past its first characters.
      const name = r.bool(0.5) ? randomName(r) : `${r.pick(['', '-', '-1', '0', '0002', '12'])}${r.pick(['_c', '_', 'c', '_c1', '_c1s'])}${randomName(r)}`;
      await fuzzCase(t, `name case ${i}: ${JSON.stringify(name)}`, 'random-string', () => {
        nameStyle(name);
        parseMsmtCamera(name);
        parseListLine(name);
        const p = parseMarketStyleName(name);
        if (!p) return 'refused';
        // Independent reading: the leading "<int>_c<int>" of the base name.
        const m = /^(-?\d+)_c(\d+)/.exec(baseName(name));
        verify(m && Number(m[1]) === p.pid && Number(m[2]) === p.camid, `parsed ${JSON.stringify(p)}`);
        verify(Number.isInteger(p.pid) && p.pid >= -1 && p.pid <= INT32_MAX, `pid ${p.pid} out of range`);
        verify(Number.isInteger(p.camid) && p.camid >= 1 && p.camid <= INT32_MAX, `camid ${p.camid} out of range`);
        return 'parsed';
      });
    }
    expect(t.failures).toEqual([]);
  });

  it('near-miss names parse to the hand-worked label or are refused (300 cases)', async () => {
    const t = newTally('near-miss file names');
    tallies.push(t);
    const rng = new Prng(5);
    for (let i = 0; i < 300; i++) {
      const nm = nearMissName(rng.fork(i));
      await fuzzCase(t, `near-miss case ${i}: ${nm.name}`, nm.kind, () => {
        const p = parseMarketStyleName(nm.name);
        if (nm.expect === null) {
          verify(p === null, `${nm.name} should be refused; parsed ${JSON.stringify(p)}`);
          return 'refused as expected';
        }
        verify(p && p.pid === nm.expect.pid && p.camid === nm.expect.camid, `${nm.name} parsed ${JSON.stringify(p)}; expected ${JSON.stringify(nm.expect)}`);
        return 'parsed as expected';
      });
    }
    expect(t.failures).toEqual([]);
  });

  it('near-miss names inside a dataset load with their labels or are reported (60 datasets of 5 odd names)', async () => {
    const t = newTally('near-miss names in a dataset');
    tallies.push(t);
    const rng = new Prng(6);
    const jpg = solidJpeg([90, 120, 150]);
    for (let i = 0; i < 60; i++) {
      const r = rng.fork(i);
      const f: Record<string, Uint8Array> = {
        [`q/query/${marketName(1, 1, 0)}`]: jpg,
        [`q/bounding_box_test/${marketName(1, 2, 1)}`]: jpg,
      };
      const odd = Array.from({ length: 5 }, () => ({ nm: nearMissName(r), split: r.pick(['query', 'bounding_box_test', 'bounding_box_train'] as const) }));
      for (const o of odd) f[`q/${o.split}/${o.nm.name}`] = jpg;
      await fuzzCase(t, `near-miss dataset ${i}: ${odd.map((o) => `${o.split}/${o.nm.name}`).join(' ')}`, 'near-miss names', async () => {
        const ds = await loadReidDataset(memorySource(f, 'near-miss'), { height: H, width: W });
        for (const o of odd) {
          const split = o.split === 'query' ? ds.query : o.split === 'bounding_box_test' ? ds.gallery : ds.train;
          const at = split.names!.indexOf(o.nm.name);
          const path = `q/${o.split}/${o.nm.name}`;
          const skipped = ds.report.skipped.some((k) => k.path === path);
          const ignored = ds.report.ignoredNonImages.count > 0;
          if (!o.nm.image) verify(at < 0 && ignored, `${o.nm.name} is not an image by its extension but was loaded`);
          else if (o.nm.expect === null) verify(at < 0 && skipped, `${o.nm.name} should be refused and reported; loaded at ${at}`);
          else if (o.split === 'bounding_box_train' && o.nm.expect.pid <= 0) verify(at < 0 && skipped, `${o.nm.name} (junk/distractor) in training should be skipped and reported`);
          else verify(at >= 0 && split.pids[at] === o.nm.expect.pid && split.camids[at] === o.nm.expect.camid, `${o.nm.name} loaded as (${split.pids[at]}, ${split.camids[at]}); expected ${JSON.stringify(o.nm.expect)}`);
        }
        return 'labels as hand-worked';
      });
    }
    expect(t.failures).toEqual([]);
  });
});
