/**
 * Load a real ReID dataset (Market-1501, DukeMTMC-reID, CUHK03-NP, MSMT17) from any FileSource
 * into a ReidDataset of decoded, resized RGB images, with a report of everything that was not
 * taken as is (unparsable names, undecodable images, resized images, query identities the
 * gallery cannot answer). Nothing is dropped silently.
 *
 * Conventions (as torchreid loads these datasets):
 * - Identities and cameras come from file names (MSMT17: identity from the list file's label).
 * - Junk (-1) and distractor (0) images are kept in query/gallery (the ranking handles them);
 *   in the training split they have no identity to learn and are skipped (and reported).
 * - MSMT17 numbers identities from 0 separately in train and test. To keep 0 as the distractor
 *   code and train/test identities distinct, train label l becomes pid l + 1 and test label l
 *   becomes pid MSMT_TEST_PID_OFFSET + l + 1. Validation images (list_val.txt) join the training
 *   split only with includeVal (torchreid's default leaves them out).
 * - Images are decoded only when needed, in the source's cheapest order (archive order), one at
 *   a time; each split is sorted by file path.
 */
import { CancelledError, LabError } from '../../errors';
import { Prng } from '../../util/prng';
import { decodeImage, resizeBilinear, type RgbImage } from '../codec';
import type { ReidDataset, ReidSplit } from '../types';
import { detectLayout, FAMILY_NAMES, type DatasetFamily, type LayoutOptions, type MsmtLayout, type MarketStyleLayout } from './layout';
import { MAX_LABEL, baseName, parseListLine, parseMarketStyleName, parseMsmtCamera } from './names';
import type { FileSource } from './source';

export const MSMT_TEST_PID_OFFSET = 10000;

export type SplitName = 'train' | 'query' | 'gallery';

export interface LoadOptions extends LayoutOptions {
  /** Output image size (default 128 x 64, the usual ReID input). */
  height?: number;
  width?: number;
  /** Which splits to decode (default all three); the others come back empty. */
  splits?: readonly SplitName[];
  /** Keep only this many test identities (seeded), for a quick evaluation. */
  testIdentities?: number;
  /** Keep whole training identities (seeded order) up to this many training images. */
  maxTrainImages?: number;
  seed?: number;
  /** MSMT17: add list_val.txt images to the training split. */
  includeVal?: boolean;
  /** Replace the image decoder (e.g. createImageBitmap in a browser worker). */
  decode?: (bytes: Uint8Array, path: string) => RgbImage | Promise<RgbImage>;
  onProgress?: (p: { phase: 'decoding'; done: number; total: number }) => void;
  shouldCancel?: () => boolean;
  signal?: AbortSignal;
}

export interface SkippedFile {
  path: string;
  split: SplitName;
  reason: string;
}

export interface LoadReport {
  source: string;
  family: DatasetFamily;
  root: string;
  height: number;
  width: number;
  counts: Record<SplitName, number>;
  identities: Record<SplitName, number>;
  cameras: Record<SplitName, number>;
  /** Files that were meant as images of a split but could not be used. */
  skipped: SkippedFile[];
  /** Files in split folders that are not JPEG/PNG by extension (e.g. Thumbs.db). */
  ignoredNonImages: { count: number; examples: string[] };
  /** Images whose size differed from the output size (all are resized to it). */
  resized: number;
  /** The most common source sizes, most frequent first. */
  sourceSizes: { width: number; height: number; count: number }[];
  /** Query identities with no gallery image at all. */
  queryIdsMissingFromGallery: number[];
  /** Query identities whose gallery images all share the query's camera (unscorable). */
  queryIdsOnlySameCamera: number[];
  subsample?: { testIdentities: number; of: number; seed: number };
  trainLimit?: { images: number; identities: number; ofImages: number; seed: number };
  warnings: string[];
}

export interface LoadedReidDataset extends ReidDataset {
  report: LoadReport;
}

interface Item {
  path: string;
  /** Name stored in the split (path inside the split folder / list entry). */
  name: string;
  pid: number;
  camid: number;
}

const IMAGE_EXT = /\.(jpe?g|png)$/i;
const SPLITS: readonly SplitName[] = ['train', 'query', 'gallery'];

function bad(message: string): LabError {
  return new LabError('bad-dataset', message);
}

function examples(xs: readonly string[], n = 3): string {
  return xs.slice(0, n).join(', ') + (xs.length > n ? ', ...' : '');
}

/** A skipped file as a message names it: its base name, else its path (a list entry "0000/" has no base name). */
function fileLabel(path: string): string {
  return baseName(path) || path || 'a file without a name';
}

function noScorableQuery(sourceName: string): LabError {
  return bad(`${sourceName}: no query identity has a gallery image from another camera, so nothing can be evaluated.`);
}

export async function loadReidDataset(source: FileSource, opts: LoadOptions = {}): Promise<LoadedReidDataset> {
  const height = opts.height ?? 128;
  const width = opts.width ?? 64;
  if (!(Number.isInteger(height) && Number.isInteger(width) && height > 0 && width > 0)) {
    throw new LabError('bad-argument', `The image size must be positive whole numbers; got ${height} x ${width}.`);
  }
  const wanted = new Set(opts.splits ?? SPLITS);
  const seed = opts.seed ?? 0;
  const entries = await source.list();
  const paths = entries.map((e) => e.path);
  const layout = detectLayout(paths, { ...opts, sourceName: opts.sourceName ?? source.name });

  const skipped: SkippedFile[] = [];
  const ignored: string[] = [];
  const items: Record<SplitName, Item[]> =
    layout.kind === 'msmt17'
      ? await msmtItems(source, layout, new Set(paths), wanted, opts.includeVal ?? false, skipped)
      : marketItems(layout, paths, wanted, skipped, ignored);

  for (const s of SPLITS) items[s].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const where = (s: SplitName) =>
    layout.kind === 'msmt17' ? `list_${s === 'train' ? 'train' : s}.txt` : `${s === 'train' ? 'bounding_box_train' : s === 'query' ? 'query' : 'bounding_box_test'}/`;
  for (const s of ['query', 'gallery'] as const) {
    if (wanted.has(s) && items[s].length === 0) {
      const bads = skipped.filter((k) => k.split === s);
      throw bad(
        `${source.name}: the ${s} split (${where(s)}) has no usable image` +
          (bads.length ? `; ${bads.length} file(s) were rejected, e.g. ${examples(bads.map((b) => `${fileLabel(b.path)} (${b.reason})`))}.` : '.'),
      );
    }
  }

  const report: LoadReport = {
    source: source.name, family: layout.family, root: layout.root, height, width,
    counts: { train: 0, query: 0, gallery: 0 }, identities: { train: 0, query: 0, gallery: 0 }, cameras: { train: 0, query: 0, gallery: 0 },
    skipped, ignoredNonImages: { count: ignored.length, examples: ignored.slice(0, 5) }, resized: 0, sourceSizes: [],
    queryIdsMissingFromGallery: [], queryIdsOnlySameCamera: [], warnings: [],
  };

  // Quick evaluation: a seeded choice among the query identities that can be scored.
  if (opts.testIdentities !== undefined && wanted.has('query') && wanted.has('gallery')) {
    const n = opts.testIdentities;
    if (!Number.isInteger(n) || n < 1) throw new LabError('bad-argument', `testIdentities must be a positive whole number; got ${n}.`);
    const scorable = [...scorableQueryIds(items.query, items.gallery)].sort((a, b) => a - b);
    // An empty subset would leave both splits empty before decoding; say why here.
    if (scorable.length === 0) throw noScorableQuery(source.name);
    const chosen = new Set(new Prng(seed).fork('test-identities').shuffle(scorable).slice(0, n));
    items.query = items.query.filter((it) => chosen.has(it.pid));
    items.gallery = items.gallery.filter((it) => chosen.has(it.pid));
    report.subsample = { testIdentities: chosen.size, of: scorable.length, seed };
    if (chosen.size < n) report.warnings.push(`Asked for ${n} test identities; only ${chosen.size} can be scored, so all of them are used.`);
  }
  if (opts.maxTrainImages !== undefined && wanted.has('train')) {
    const limit = opts.maxTrainImages;
    if (!Number.isInteger(limit) || limit < 1) throw new LabError('bad-argument', `maxTrainImages must be a positive whole number; got ${limit}.`);
    const byId = groupBy(items.train);
    const ids = new Prng(seed).fork('train-identities').shuffle([...byId.keys()].sort((a, b) => a - b));
    const keep = new Set<number>();
    let total = 0;
    for (const id of ids) {
      const c = byId.get(id)!.length;
      if (keep.size > 0 && total + c > limit) continue;
      keep.add(id);
      total += c;
    }
    const before = items.train.length;
    items.train = items.train.filter((it) => keep.has(it.pid));
    report.trainLimit = { images: items.train.length, identities: keep.size, ofImages: before, seed };
  }

  const splits = await decodeAll(source, entries.map((e) => e.path), items, height, width, opts, report);
  for (const s of SPLITS) {
    report.counts[s] = splits[s].count;
    report.identities[s] = new Set(Array.from(splits[s].pids).filter((p) => p > 0)).size;
    report.cameras[s] = new Set(splits[s].camids).size;
  }
  for (const s of ['query', 'gallery'] as const) {
    if (wanted.has(s) && splits[s].count === 0) {
      const why = skipped.filter((k) => k.split === s).map((k) => `${fileLabel(k.path)} (${k.reason})`);
      // Every image decodeAll drops is in `skipped`; name the split's folder should none be.
      throw bad(why.length > 0
        ? `${source.name}: none of the ${s} images could be decoded, e.g. ${examples(why)}.`
        : `${source.name}: the ${s} split (${where(s)}) has no usable image.`);
    }
  }
  if (wanted.has('query') && wanted.has('gallery')) checkQueries(splits.query, splits.gallery, report, source.name);
  if (wanted.has('train') && splits.train.count === 0) report.warnings.push('The training split is empty; fine-tuning needs training images.');
  if (skipped.length) report.warnings.push(`${skipped.length} file(s) were skipped, e.g. ${examples(skipped.map((k) => `${k.path} (${k.reason})`))}.`);
  if (report.resized) report.warnings.push(`${report.resized} image(s) were not ${height} x ${width} and were resized.`);

  const name = FAMILY_NAMES[layout.family] + (layout.family === 'cuhk03-np' ? ` (${layout.root.split('/').pop()})` : '') +
    (report.subsample ? ` (${report.subsample.testIdentities} test identities)` : '');
  return { name, ...splits, report };
}

function marketItems(layout: MarketStyleLayout, paths: readonly string[], wanted: Set<SplitName>, skipped: SkippedFile[], ignored: string[]): Record<SplitName, Item[]> {
  const out: Record<SplitName, Item[]> = { train: [], query: [], gallery: [] };
  for (const split of SPLITS) {
    const dir = layout.dirs[split];
    if (!dir || !wanted.has(split)) continue;
    for (const path of paths) {
      if (!path.startsWith(dir)) continue;
      const name = path.slice(dir.length);
      if (name.includes('/')) continue; // nested folders are not part of the layout
      if (!IMAGE_EXT.test(name)) { ignored.push(path); continue; }
      const parsed = parseMarketStyleName(name);
      if (!parsed) { skipped.push({ path, split, reason: 'name does not match <person>_c<camera>...' }); continue; }
      if (split === 'train' && parsed.pid <= 0) {
        skipped.push({ path, split, reason: parsed.pid === 0 ? 'distractor (0000) in the training folder' : 'junk (-1) in the training folder' });
        continue;
      }
      out[split].push({ path, name, pid: parsed.pid, camid: parsed.camid });
    }
  }
  return out;
}

async function msmtItems(
  source: FileSource, layout: MsmtLayout, files: Set<string>, wanted: Set<SplitName>, includeVal: boolean, skipped: SkippedFile[],
): Promise<Record<SplitName, Item[]>> {
  const out: Record<SplitName, Item[]> = { train: [], query: [], gallery: [] };
  const root = layout.root === '' ? '' : `${layout.root}/`;
  const lists: { split: SplitName; file: string | null; dirs: string[]; offset: number }[] = [
    { split: 'train', file: layout.lists.train, dirs: ['train', 'mask_train_v2'], offset: 1 },
    { split: 'train', file: includeVal ? layout.lists.val : null, dirs: ['train', 'mask_train_v2'], offset: 1 },
    { split: 'query', file: layout.lists.query, dirs: ['test', 'mask_test_v2'], offset: MSMT_TEST_PID_OFFSET + 1 },
    { split: 'gallery', file: layout.lists.gallery, dirs: ['test', 'mask_test_v2'], offset: MSMT_TEST_PID_OFFSET + 1 },
  ];
  for (const { split, file, dirs, offset } of lists) {
    if (!file || !wanted.has(split)) continue;
    const text = new TextDecoder().decode(await source.read(file));
    const lines = text.split(/\r?\n/);
    lines.forEach((line, i) => {
      if (line.trim() === '') return;
      const entry = parseListLine(line);
      const at = `${file}:${i + 1}`;
      if (!entry) { skipped.push({ path: at, split, reason: 'line is not "<path> <label>"' }); return; }
      const resolved = [...dirs.map((d) => `${root}${d}/${entry.path}`), `${root}${entry.path}`].find((p) => files.has(p));
      if (!resolved) { skipped.push({ path: entry.path, split, reason: `listed in ${baseName(file)} but not present` }); return; }
      const camid = parseMsmtCamera(entry.path);
      if (camid === null) { skipped.push({ path: resolved, split, reason: 'name does not match <person>_<index>_<camera>_...' }); return; }
      const pid = entry.label + offset;
      if (pid > MAX_LABEL) { skipped.push({ path: resolved, split, reason: `label ${entry.label} is too large (the lab numbers identities up to ${MAX_LABEL - offset})` }); return; }
      out[split].push({ path: resolved, name: entry.path, pid, camid });
    });
  }
  return out;
}

function groupBy(items: readonly Item[]): Map<number, Item[]> {
  const m = new Map<number, Item[]>();
  for (const it of items) {
    const g = m.get(it.pid);
    if (g) g.push(it); else m.set(it.pid, [it]);
  }
  return m;
}

/** Query identities with a gallery image of the same identity from another camera. */
function scorableQueryIds(query: readonly { pid: number; camid: number }[], gallery: readonly { pid: number; camid: number }[]): Set<number> {
  const galleryCams = new Map<number, Set<number>>();
  for (const g of gallery) {
    if (!galleryCams.has(g.pid)) galleryCams.set(g.pid, new Set());
    galleryCams.get(g.pid)!.add(g.camid);
  }
  const out = new Set<number>();
  for (const q of query) {
    const cams = galleryCams.get(q.pid);
    if (q.pid > 0 && cams && [...cams].some((c) => c !== q.camid)) out.add(q.pid);
  }
  return out;
}

function checkQueries(query: ReidSplit, gallery: ReidSplit, report: LoadReport, sourceName: string): void {
  const asItems = (s: ReidSplit) => Array.from(s.pids, (pid, i) => ({ pid, camid: s.camids[i] }));
  const q = asItems(query);
  const galleryIds = new Set(gallery.pids);
  const scorable = scorableQueryIds(q, asItems(gallery));
  const qIds = [...new Set(query.pids)].filter((p) => p > 0).sort((a, b) => a - b);
  report.queryIdsMissingFromGallery = qIds.filter((p) => !galleryIds.has(p));
  report.queryIdsOnlySameCamera = qIds.filter((p) => galleryIds.has(p) && !scorable.has(p));
  if (scorable.size === 0) throw noScorableQuery(sourceName);
  const missing = report.queryIdsMissingFromGallery.length;
  if (missing) report.warnings.push(`${missing} query identit${missing === 1 ? 'y is' : 'ies are'} absent from the gallery (e.g. ${report.queryIdsMissingFromGallery.slice(0, 5).join(', ')}); their queries are skipped in evaluation.`);
  const same = report.queryIdsOnlySameCamera.length;
  if (same) report.warnings.push(`${same} query identit${same === 1 ? 'y has' : 'ies have'} gallery images only from the query's own camera; their queries are skipped in evaluation.`);
}

async function decodeAll(
  source: FileSource, order: readonly string[], items: Record<SplitName, Item[]>, height: number, width: number, opts: LoadOptions, report: LoadReport,
): Promise<Record<SplitName, ReidSplit>> {
  const size = height * width * 3;
  const splits = {} as Record<SplitName, ReidSplit>;
  const ok = {} as Record<SplitName, Uint8Array>;
  const total = SPLITS.reduce((t, s) => t + items[s].length, 0);
  for (const s of SPLITS) {
    const n = items[s].length;
    let images: Uint8Array;
    try {
      images = new Uint8Array(n * size);
    } catch {
      throw new LabError('out-of-memory',
        `Holding ${total} images of ${height} x ${width} needs ${Math.round((total * size) / 2 ** 20)} MB, more than this environment allows; ` +
        'load fewer (fewer test identities, a training-image limit, or only the splits you need).');
    }
    splits[s] = {
      images, count: n, height, width,
      pids: Int32Array.from(items[s], (it) => it.pid), camids: Int32Array.from(items[s], (it) => it.camid),
      names: items[s].map((it) => it.name),
    };
    ok[s] = new Uint8Array(n);
  }
  // Read in the source's order (sequential in an archive), write to each item's sorted slot.
  const rank = new Map(order.map((p, i) => [p, i]));
  const jobs = SPLITS.flatMap((s) => items[s].map((it, i) => ({ s, i, path: it.path })));
  jobs.sort((a, b) => rank.get(a.path)! - rank.get(b.path)!);
  const sizes = new Map<string, number>();
  const decode = opts.decode ?? ((b: Uint8Array, p: string) => decodeImage(b, p));
  for (let j = 0; j < jobs.length; j++) {
    if (opts.shouldCancel?.() || opts.signal?.aborted) throw new CancelledError('Dataset loading');
    const { s, i, path } = jobs[j];
    try {
      let img = await decode(await source.read(path), path);
      if (img.width !== width || img.height !== height) {
        const key = `${img.width}x${img.height}`;
        sizes.set(key, (sizes.get(key) ?? 0) + 1);
        report.resized++;
        img = resizeBilinear(img, width, height);
      } else {
        sizes.set(`${width}x${height}`, (sizes.get(`${width}x${height}`) ?? 0) + 1);
      }
      splits[s].images.set(img.data, i * size);
      ok[s][i] = 1;
    } catch (e) {
      // A file that cannot be decoded, or a damaged archive entry, is skipped and reported;
      // anything else (cancellation, out of memory) stops the load.
      if (e instanceof LabError && e.code !== 'bad-image' && e.detail?.damaged !== true) throw e;
      report.skipped.push({ path, split: s, reason: (e as Error).message });
    }
    if ((j + 1) % 64 === 0 || j + 1 === jobs.length) opts.onProgress?.({ phase: 'decoding', done: j + 1, total: jobs.length });
  }
  report.sourceSizes = [...sizes].map(([k, count]) => {
    const [w, h] = k.split('x').map(Number);
    return { width: w, height: h, count };
  }).sort((a, b) => b.count - a.count).slice(0, 10);
  for (const s of SPLITS) splits[s] = compact(splits[s], ok[s]);
  return splits;
}

/** Drops the images marked not ok, in place (buffers are shortened views). */
function compact(split: ReidSplit, ok: Uint8Array): ReidSplit {
  if (ok.every((v) => v === 1)) return split;
  const size = split.height * split.width * 3;
  let n = 0;
  const names: string[] = [];
  for (let i = 0; i < split.count; i++) {
    if (!ok[i]) continue;
    if (n !== i) split.images.copyWithin(n * size, i * size, (i + 1) * size);
    split.pids[n] = split.pids[i];
    split.camids[n] = split.camids[i];
    names.push(split.names![i]);
    n++;
  }
  return {
    images: split.images.slice(0, n * size), count: n, height: split.height, width: split.width,
    pids: split.pids.slice(0, n), camids: split.camids.slice(0, n), names,
  };
}
