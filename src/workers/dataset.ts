/**
 * The worker's dataset: SynthReID generated image by image (so a cancel gets in between images),
 * or a real dataset loaded from dropped files / a zip with the engine's loaders. Also the
 * fine-tuning subset (identities of the TRAIN split only) and thumbnails for the UI.
 */
import { selectFineTuneSubset } from '../engine/scenarios/subset';
import { LabError } from '../engine/errors';
import { planSynthReid, renderPlannedImage, type PlannedImage } from '../engine/data/synth';
import { loadReidDataset, type LoadReport } from '../engine/data/market/load';
import { blobFilesSource, blobRangeReader, type FileSource } from '../engine/data/market/source';
import { zipSource } from '../engine/data/market/zip';
import { FAMILY_NAMES } from '../engine/data/market/layout';
import { imageView, type ReidDataset, type ReidSplit } from '../engine/data/types';
import type { DatasetSummary, FineTuneSplitRequest, FineTuneSplitSummary, LoadFilesOptions, SplitStats, SynthRequest, Thumbnail } from './api';
import { yieldToEventLoop, type Job } from './jobs';

/** Images rendered between yields: small enough that a cancel is seen within ~50 ms. */
const RENDER_CHUNK = 16;

export function splitStats(s: ReidSplit): SplitStats {
  const ids = new Set<number>();
  const cams = new Set<number>();
  for (let i = 0; i < s.count; i++) {
    if (s.pids[i] > 0) ids.add(s.pids[i]);
    cams.add(s.camids[i]);
  }
  return { images: s.count, identities: ids.size, cameras: cams.size };
}

export function summarizeDataset(d: ReidDataset, kind: DatasetSummary['kind'], report: string[], synth?: SynthRequest): DatasetSummary {
  return {
    name: d.name,
    kind,
    height: d.query.height,
    width: d.query.width,
    train: splitStats(d.train),
    query: splitStats(d.query),
    gallery: splitStats(d.gallery),
    ...(synth ? { synth } : {}),
    report,
  };
}

function checkSynth(req: SynthRequest): void {
  if (req.tier !== 'XS' && req.tier !== 'S') throw new LabError('bad-argument', `The lab generates SynthReID tiers XS and S; got "${String(req.tier)}".`);
}

/** SynthReID at the model's input size, rendered in chunks with progress and cancellation. */
export async function generateSynth(req: SynthRequest, size: { height: number; width: number }, job: Job): Promise<ReidDataset> {
  checkSynth(req);
  const plan = planSynthReid({ tier: req.tier, domain: req.domain, shift: req.shift, seed: req.seed, height: size.height, width: size.width });
  const bytesPer = size.height * size.width * 3;
  const total = plan.splits.train.length + plan.splits.query.length + plan.splits.gallery.length;
  let done = 0;
  const build = async (images: PlannedImage[], what: string): Promise<ReidSplit> => {
    const bytes = new Uint8Array(images.length * bytesPer);
    for (let i = 0; i < images.length; i++) {
      renderPlannedImage(plan, images[i], bytes.subarray(i * bytesPer, (i + 1) * bytesPer));
      done++;
      if (done % RENDER_CHUNK === 0) {
        job.progress(done / total, `Rendering ${what} images: ${done} of ${total}`);
        await yieldToEventLoop();
        job.throwIfCancelled();
      }
    }
    return {
      images: bytes,
      count: images.length,
      height: size.height,
      width: size.width,
      pids: Int32Array.from(images.map((m) => m.pid)),
      camids: Int32Array.from(images.map((m) => m.camera)),
      names: images.map((m) => m.name),
    };
  };
  const train = await build(plan.splits.train, 'training');
  const query = await build(plan.splits.query, 'query');
  const gallery = await build(plan.splits.gallery, 'gallery');
  job.progress(1, `SynthReID-${req.tier} ${req.domain}: ${total} images`);
  const shift = req.domain === 'target' && req.shift !== 1 ? ` (shift ${req.shift})` : '';
  return { name: `SynthReID-${req.tier}/${req.domain}${shift}`, train, query, gallery };
}

function isZip(name: string): boolean {
  return /\.zip$/i.test(name);
}

/** One zip, or the files of a dropped/picked folder. */
async function sourceFor(files: { path: string; file: File }[]): Promise<FileSource> {
  if (files.length === 0) throw new LabError('bad-dataset', 'No files arrived: drop a dataset folder (with bounding_box_train, query, bounding_box_test) or its zip.');
  const zips = files.filter((f) => isZip(f.path));
  if (zips.length === 1 && files.length === 1) return zipSource(blobRangeReader(zips[0].file), zips[0].file.name);
  if (zips.length > 0) {
    throw new LabError('bad-dataset', `Drop either one zip archive or one unpacked dataset folder; found ${zips.length} zip file(s) among ${files.length} files.`);
  }
  const top = files[0].path.split('/')[0] || 'folder';
  return blobFilesSource(files, top);
}

/** The loader's report as a few sentences for the UI. */
export function reportSentences(r: LoadReport): string[] {
  const out: string[] = [];
  out.push(
    `${FAMILY_NAMES[r.family]} layout: ${r.counts.train} training images of ${r.identities.train} identities, ${r.counts.query} query and ${r.counts.gallery} gallery images (${r.identities.query} query identities, ${r.cameras.gallery} cameras).`,
  );
  if (r.subsample) out.push(`Kept ${r.subsample.testIdentities} of ${r.subsample.of} test identities (seed ${r.subsample.seed}) so evaluation stays quick.`);
  if (r.resized > 0) {
    const common = r.sourceSizes[0];
    out.push(`${r.resized} images were resized to ${r.height}×${r.width}${common ? ` (most were ${common.height}×${common.width})` : ''}.`);
  }
  if (r.skipped.length > 0) {
    const ex = r.skipped.slice(0, 2).map((s) => `${s.path}: ${s.reason}`).join('; ');
    out.push(`${r.skipped.length} files could not be used (${ex}${r.skipped.length > 2 ? '; …' : ''}).`);
  }
  if (r.ignoredNonImages.count > 0) out.push(`${r.ignoredNonImages.count} non-image files were ignored (e.g. ${r.ignoredNonImages.examples.slice(0, 2).join(', ')}).`);
  if (r.queryIdsMissingFromGallery.length > 0) out.push(`${r.queryIdsMissingFromGallery.length} query identities have no gallery image and are skipped in scoring.`);
  if (r.queryIdsOnlySameCamera.length > 0) out.push(`${r.queryIdsOnlySameCamera.length} query identities appear in the gallery only in the query's camera and are skipped in scoring.`);
  for (const w of r.warnings) out.push(w);
  return out;
}

export async function loadDatasetFiles(
  files: { path: string; file: File }[],
  opts: LoadFilesOptions,
  size: { height: number; width: number },
  job: Job,
): Promise<{ dataset: ReidDataset; report: string[] }> {
  if (!Array.isArray(files)) throw new LabError('bad-argument', 'Dataset files must be a list of { path, file }.');
  const source = await sourceFor(files);
  job.progress(0, `Reading ${source.name}`);
  const loaded = await loadReidDataset(source, {
    height: size.height,
    width: size.width,
    seed: opts.seed,
    ...(opts.testIdentities > 0 ? { testIdentities: opts.testIdentities } : {}),
    signal: job.signal,
    onProgress: (p) => job.progress(p.total > 0 ? p.done / p.total : 0, `Decoding images: ${p.done} of ${p.total}`),
  });
  await source.close?.();
  const { report, ...rest } = loaded;
  const dataset: ReidDataset = { name: rest.name, train: rest.train, query: rest.query, gallery: rest.gallery };
  return { dataset, report: reportSentences(report) };
}

/**
 * The fine-tuning subset: `identities` training identities with `imagesPerIdentity` images
 * each (seeded choice), spread over cameras where possible. Never query/gallery identities.
 */
export function fineTuneSubset(d: ReidDataset, req: FineTuneSplitRequest): { split: ReidSplit; summary: FineTuneSplitSummary } {
  // The engine's selection (also used by the CLI and the scenarios): same seed, same subset.
  const split = selectFineTuneSubset(d, req);
  const ofIdentities = new Set([...d.train.pids].filter((p) => p > 0)).size;
  return {
    split,
    summary: { identities: new Set(split.pids).size, images: split.count, ofIdentities, disjointFromEvaluation: true },
  };
}

/** RGB bytes to RGBA (opaque), the layout ImageData wants. */
export function toRgba(rgb: Uint8Array): ArrayBuffer {
  const n = rgb.length / 3;
  const out = new Uint8ClampedArray(n * 4);
  for (let i = 0; i < n; i++) {
    out[4 * i] = rgb[3 * i];
    out[4 * i + 1] = rgb[3 * i + 1];
    out[4 * i + 2] = rgb[3 * i + 2];
    out[4 * i + 3] = 255;
  }
  return out.buffer;
}

/** `identities` test identities seen by the most cameras, one image per camera (query first). */
export function thumbnails(d: ReidDataset, identities: number, perIdentity: number): Thumbnail[] {
  const cams = new Map<number, Map<number, { split: 'query' | 'gallery'; i: number }>>();
  for (const [name, s] of [['query', d.query], ['gallery', d.gallery]] as const) {
    for (let i = 0; i < s.count; i++) {
      const pid = s.pids[i];
      if (pid <= 0) continue;
      if (!cams.has(pid)) cams.set(pid, new Map());
      const m = cams.get(pid)!;
      if (!m.has(s.camids[i])) m.set(s.camids[i], { split: name, i });
    }
  }
  const pids = [...cams.keys()].sort((a, b) => cams.get(b)!.size - cams.get(a)!.size || a - b).slice(0, Math.max(0, identities));
  const out: Thumbnail[] = [];
  for (const pid of pids) {
    const entries = [...cams.get(pid)!.entries()].sort((a, b) => a[0] - b[0]).slice(0, Math.max(0, perIdentity));
    for (const [camera, { split, i }] of entries) {
      const s = split === 'query' ? d.query : d.gallery;
      out.push({ pid, camera, split, width: s.width, height: s.height, rgba: toRgba(imageView(s, i)) });
    }
  }
  return out;
}
