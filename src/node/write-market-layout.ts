/**
 * Node: write a SynthReID tier to disk in the Market-1501 layout:
 *
 *   <dir>/bounding_box_train/0002_c1s1_000451_03.jpg ...
 *   <dir>/query/...
 *   <dir>/bounding_box_test/...   (gallery, with 0000_* distractors and -1_* junk)
 *   <dir>/manifest.json           (generator version, every parameter, per-image FNV-1a hashes)
 *
 * Images are rendered one at a time from the plan, so even tier M (~36k images) never sits in
 * memory. Manifest hashes are of the rendered RGB bytes, not of the encoded files: JPEG is lossy
 * and encoder-dependent, the RGB bytes are the benchmark. Node-only (fs, path).
 */
import { promises as fs, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import * as vm from 'node:vm';
import { encodeJpeg, encodePng } from '../engine/data/codec';
import { CancelledError, LabError } from '../engine/errors';
import { buildManifestFromEntries, planSynthReid, renderPlannedImage } from '../engine/data/synth';
import type { ManifestImage, SynthManifest, SynthOptions, SynthSplitName } from '../engine/data/synth';
import { fnv1a32, hex8 } from '../engine/data/synth/detmath';

export const MARKET_FOLDERS: Readonly<Record<SynthSplitName, string>> = {
  train: 'bounding_box_train',
  query: 'query',
  gallery: 'bounding_box_test',
};

type JpegEncoder = { encode(img: { width: number; height: number; data: Uint8Array }, quality: number): Uint8Array };

/**
 * A reusable jpeg-js encoder. jpeg-js's exported encode() builds its Huffman and colour tables
 * (~90 ms) on every call, which would make tier M take an hour; its JPEGEncoder class reuses
 * them (~1 ms per 128x64 image) but is not exported, so we load the module's source into a
 * sandbox that exposes it. Falls back to the codec's encodeJpeg if that ever fails.
 */
function reusableJpegEncoder(quality: number): (rgb: Uint8Array, width: number, height: number) => Uint8Array {
  try {
    const require = createRequire(import.meta.url);
    const src = readFileSync(require.resolve('jpeg-js/lib/encoder.js'), 'utf8');
    const sandbox: { module: { exports: Record<string, unknown> }; Buffer: typeof Buffer } = { module: { exports: {} }, Buffer };
    vm.runInNewContext(`${src}\n;module.exports = { JPEGEncoder: JPEGEncoder };`, sandbox);
    const Ctor = sandbox.module.exports.JPEGEncoder as new (q: number) => JpegEncoder;
    const enc = new Ctor(quality);
    let rgba = new Uint8Array(0);
    return (rgb, width, height) => {
      if (rgba.length !== width * height * 4) rgba = new Uint8Array(width * height * 4).fill(255);
      for (let i = 0, j = 0; i < rgb.length; i += 3, j += 4) {
        rgba[j] = rgb[i];
        rgba[j + 1] = rgb[i + 1];
        rgba[j + 2] = rgb[i + 2];
      }
      const out = enc.encode({ width, height, data: rgba }, quality);
      return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
    };
  } catch {
    return (rgb, width, height) => encodeJpeg({ width, height, data: rgb }, quality);
  }
}

export interface WriteMarketLayoutOptions extends SynthOptions {
  /** Output folder; created if missing. Existing SynthReID split folders in it are replaced. */
  dir: string;
  format?: 'jpeg' | 'png';
  /** JPEG quality 1-100 (default 95). */
  quality?: number;
}

export interface WrittenLayout {
  dir: string;
  manifest: SynthManifest & { files: { format: 'jpeg' | 'png'; quality: number | null; folders: Record<SynthSplitName, string> } };
  counts: Record<SynthSplitName, number>;
  bytesWritten: number;
}

export async function writeMarketLayout(options: WriteMarketLayoutOptions): Promise<WrittenLayout> {
  const format = options.format ?? 'jpeg';
  if (format !== 'jpeg' && format !== 'png') {
    throw new LabError('bad-argument', `The image format must be "jpeg" or "png"; got "${String(format)}".`);
  }
  const quality = options.quality ?? 95;
  if (format === 'jpeg' && !(Number.isInteger(quality) && quality >= 1 && quality <= 100)) {
    throw new LabError('bad-argument', `JPEG quality must be a whole number from 1 to 100; got ${quality}.`);
  }
  if (!options.dir) throw new LabError('bad-argument', 'An output folder is needed to write the dataset.');
  // Plan first: bad options fail here, before anything is touched on disk.
  const plan = planSynthReid(options);
  const { height, width } = plan.options;
  const ext = format === 'jpeg' ? 'jpg' : 'png';
  const dir = path.resolve(options.dir);
  try {
    await fs.mkdir(dir, { recursive: true });
    for (const folder of Object.values(MARKET_FOLDERS)) {
      await fs.rm(path.join(dir, folder), { recursive: true, force: true });
      await fs.mkdir(path.join(dir, folder));
    }
  } catch (e) {
    throw new LabError('storage', `Could not prepare the output folder ${dir}: ${(e as Error).message}.`);
  }
  const total = plan.splits.train.length + plan.splits.query.length + plan.splits.gallery.length;
  const rgb = new Uint8Array(height * width * 3);
  const jpeg = format === 'jpeg' ? reusableJpegEncoder(quality) : null;
  const entries: Record<SynthSplitName, ManifestImage[]> = { train: [], query: [], gallery: [] };
  let done = 0;
  let bytesWritten = 0;
  for (const split of ['train', 'query', 'gallery'] as const) {
    for (const img of plan.splits[split]) {
      if (options.isCancelled?.()) throw new CancelledError('Writing the SynthReID dataset');
      renderPlannedImage(plan, img, rgb);
      const name = img.name.replace(/\.jpg$/, `.${ext}`);
      const file = jpeg ? jpeg(rgb, width, height) : encodePng({ width, height, data: rgb });
      await fs.writeFile(path.join(dir, MARKET_FOLDERS[split], name), file);
      bytesWritten += file.byteLength;
      entries[split].push({ name, pid: img.pid, camid: img.camera, fnv1a: hex8(fnv1a32(rgb)) });
      done++;
      if (options.onProgress && (done % 64 === 0 || done === total)) options.onProgress({ done, total });
    }
  }
  const manifest = {
    ...buildManifestFromEntries(plan, entries),
    files: { format, quality: format === 'jpeg' ? quality : null, folders: { ...MARKET_FOLDERS } },
  };
  const json = JSON.stringify(manifest, null, 1);
  await fs.writeFile(path.join(dir, 'manifest.json'), json);
  bytesWritten += json.length;
  return { dir, manifest, counts: { train: entries.train.length, query: entries.query.length, gallery: entries.gallery.length }, bytesWritten };
}
