/**
 * Evaluation benchmark (Node, tfjs wasm backend, single-threaded):
 *   npx tsx bench/eval.ts [--quick] [--no-write]
 *
 * A Market-1501-sized evaluation, 3,000 queries x 15,000 gallery images with random features
 * (d = 2048, ResNet-50's embedding, and d = 512, ResNet-18's): the distance matrix (tfjs matMul
 * in chunks vs plain JS), then the ranking metrics (mAP/CMC/mINP with per-row radix argsort).
 * Plain JS distances are timed on the first 300 queries and scaled up (labelled). Also the
 * image decode + resize rate that bounds dataset loading. Prints a table and writes the
 * "Evaluation" section of BENCHMARKS.md (other sections are left as they are).
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import * as os from 'node:os';
import { writeSection } from './section';
import { distanceMatrix, type FeatureMatrix } from '../src/engine/eval/distance';
import { evaluateRanking } from '../src/engine/eval/ranking';
import { decodeImage, encodeJpeg, resizeBilinear, type RgbImage } from '../src/engine/data/codec';
import { Prng } from '../src/engine/util/prng';

const args = new Set(process.argv.slice(2));
const quick = args.has('--quick');
const write = !args.has('--no-write');
const SECTION = '## Evaluation';

const NQ = quick ? 300 : 3000;
const NG = quick ? 1500 : 15000;
const JS_ROWS = quick ? 30 : 300;

function features(rows: number, dim: number, rng: Prng): FeatureMatrix {
  const data = new Float32Array(rows * dim);
  for (let i = 0; i < data.length; i++) data[i] = rng.normal();
  return { data, rows, dim };
}

/** Result, wall seconds, and this process's CPU seconds (less sensitive to a shared machine). */
async function time<T>(f: () => Promise<T> | T): Promise<[T, number, number]> {
  const t = performance.now();
  const c = process.cpuUsage();
  const r = await f();
  const dc = process.cpuUsage(c);
  return [r, (performance.now() - t) / 1000, (dc.user + dc.system) / 1e6];
}

function labels(rng: Prng): { qid: Int32Array; gid: Int32Array; qcam: Int32Array; gcam: Int32Array } {
  // Market-like: 750 test identities, 6 cameras, ~4 queries and ~17 gallery images per identity,
  // plus distractors (0) and junk (-1) in the gallery.
  const ids = Math.round(NQ / 4);
  const qid = Int32Array.from({ length: NQ }, (_, i) => (i % ids) + 1);
  const gid = Int32Array.from({ length: NG }, (_, i) => (i % 10 === 9 ? rng.int(-1, 0) : rng.int(1, ids)));
  const qcam = Int32Array.from({ length: NQ }, () => rng.int(1, 6));
  const gcam = Int32Array.from({ length: NG }, () => rng.int(1, 6));
  return { qid, gid, qcam, gcam };
}

async function main(): Promise<void> {
  await tf.setBackend('wasm');
  await tf.ready();
  const loadBefore = os.loadavg()[0];
  const rng = new Prng(2024);
  const lab = labels(rng);
  const rows: string[] = [];
  const log = (s: string) => { console.log(s); rows.push(s); };
  log(`| Step | Size | Wall s | CPU s |`);
  log(`|---|---|---:|---:|`);
  const totals: Record<number, [number, number]> = {};
  for (const dim of [2048, 512]) {
    const q = features(NQ, dim, rng);
    const g = features(NG, dim, rng);
    // Warm the kernels on a small problem first.
    await distanceMatrix({ ...q, rows: 8, data: q.data.subarray(0, 8 * dim) }, { ...g, rows: 64, data: g.data.subarray(0, 64 * dim) });
    const [dist, tTf, cTf] = await time(() => distanceMatrix(q, g, { metric: 'euclidean', impl: 'tf' }));
    const gmac = (NQ * NG * dim) / 1e9;
    log(`| distance, tfjs wasm matMul (euclidean) | ${NQ} x ${NG}, d=${dim} (${gmac.toFixed(1)} GMAC) | ${tTf.toFixed(2)} | ${cTf.toFixed(2)} (${(gmac / cTf).toFixed(1)} GMAC/CPU-s) |`);
    const qSub = { ...q, rows: JS_ROWS, data: q.data.subarray(0, JS_ROWS * dim) };
    const [, tJs, cJs] = await time(() => distanceMatrix(qSub, g, { metric: 'euclidean', impl: 'js' }));
    const tJsAll = (tJs * NQ) / JS_ROWS;
    const cJsAll = (cJs * NQ) / JS_ROWS;
    log(`| distance, plain JS (euclidean; ${JS_ROWS} rows timed, scaled x${NQ / JS_ROWS}) | ${NQ} x ${NG}, d=${dim} | ${tJsAll.toFixed(1)} | ${cJsAll.toFixed(1)} (${(gmac / cJsAll).toFixed(2)} GMAC/CPU-s) |`);
    const [res, tRank, cRank] = await time(() => evaluateRanking({
      distmat: dist, queryIds: lab.qid, galleryIds: lab.gid, queryCams: lab.qcam, galleryCams: lab.gcam, maxRank: 50,
    }));
    log(`| ranking: mAP, CMC@50, mINP (${res.numValidQueries} valid queries) | ${NQ} x ${NG} | ${tRank.toFixed(2)} | ${cRank.toFixed(2)} |`);
    totals[dim] = [tTf + tRank, cTf + cRank];
  }
  for (const dim of [2048, 512]) log(`| **total: distance (tfjs) + ranking** | ${NQ} x ${NG}, d=${dim} | **${totals[dim][0].toFixed(2)}** | **${totals[dim][1].toFixed(2)}** |`);

  // Dataset loading: decode + resize rates.
  // A photo-like test image: smooth colour regions plus mild noise (JPEG cost grows with detail).
  const img = (w: number, h: number): RgbImage => {
    const data = new Uint8Array(w * h * 3);
    const r = new Prng(5);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        for (let c = 0; c < 3; c++) {
          const v = 128 + 60 * Math.sin((x / w) * 6 + c) * Math.cos((y / h) * 9 - c) + r.normal(0, 6);
          data[(y * w + x) * 3 + c] = Math.max(0, Math.min(255, Math.round(v)));
        }
      }
    }
    return { width: w, height: h, data };
  };
  for (const [w, h, label] of [[64, 128, 'Market-size JPEG 64x128 (no resize)'], [100, 250, 'Duke-size JPEG ~100x250, resized to 64x128']] as const) {
    const bytes = encodeJpeg(img(w, h), 90);
    // Warm up the decoder's JIT before timing.
    for (let i = 0; i < 20; i++) decodeImage(bytes);
    const n = quick ? 50 : 500;
    const [, t, c] = await time(() => {
      for (let i = 0; i < n; i++) {
        const d = decodeImage(bytes);
        if (d.width !== 64 || d.height !== 128) resizeBilinear(d, 64, 128);
      }
    });
    log(`| decode${w === 64 ? '' : ' + resize'}: ${label}, ${(bytes.length / 1024).toFixed(1)} KiB | ${n} images | ${(t / n * 1000).toFixed(2)} ms/image | ${(c / n * 1000).toFixed(2)} ms/image (${(n / c).toFixed(0)}/CPU-s) |`);
  }

  if (write) {
    const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
    const section = [
      SECTION,
      '',
      `Measured ${new Date().toISOString().slice(0, 10)} with \`npx tsx bench/eval.ts${quick ? ' --quick' : ''}\` on ${cpu}, ${os.cpus().length} cores ` +
        `(shared with other work: 1-minute load average ${loadBefore.toFixed(1)} at the start, ${os.loadavg()[0].toFixed(1)} at the end), ` +
        `Node ${process.version}, tfjs ${tf.version.tfjs} wasm backend (single thread in Node).`,
      'Random features, Market-like labels (750 identities, 6 cameras, 10% distractors/junk).',
      '',
      ...rows,
      '',
      '- Distances: tfjs matMul against the gallery transposed once ([d, n_g]); chunks of query rows',
      '  keep each product near 8M values. matMul with `transposeB: true` instead was ~13x slower on',
      '  wasm (300 x 15000 x 512: 3.9 s vs 0.3 s), so the transpose is done up front.',
      '- Ranking: per query a stable LSD radix argsort over the float bits (3 passes of 11 bits; ties',
      '  by gallery index, as numpy\'s stable argsort), then one walk down the list; queries without',
      '  a cross-camera match are skipped before sorting.',
      '- The machine is shared (other engineers\' tests and benchmarks), so wall seconds are upper',
      '  bounds; "CPU s" is this process\'s CPU time, close to what an idle core would take (Node\'s',
      '  wasm backend is single-threaded). Idle, tfjs wasm matMul ran ~7-8 GMAC/s',
      '  (300 x 15000 x 512 in 0.3 s).',
      '- Plain JS distances run ~0.4 GMAC per CPU-second, ~15x slower than tfjs wasm (XNNPACK, SIMD):',
      '  a reference and a fallback, not the default.',
      '- Loading Market-1501 (~36k images) is bounded by JPEG decoding in JS (jpeg-js decodes',
      '  Huffman codes bit by bit): ~1 minute for Market-1501 at the rate above. A browser worker can',
      '  pass a faster `decode` (createImageBitmap + OffscreenCanvas) to loadReidDataset.',
      '',
    ].join('\n');
    writeSection(SECTION, section);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
