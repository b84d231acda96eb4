/**
 * Query x gallery distance matrices from feature matrices, and l2 normalisation.
 *
 * Metrics (as torchreid's `compute_distance_matrix` and fast-reid's `build_dist`):
 * - 'sqeuclidean': ||q||^2 + ||g||^2 - 2 q.g, clamped at 0 (torchreid's "euclidean" is this).
 * - 'euclidean': its square root (fast-reid's). Same ranking, so same mAP/CMC.
 * - 'cosine': 1 - q.g / (||q|| ||g||); a zero vector has distance 1 to everything.
 *
 * Two implementations: tfjs matMul over chunks of query rows (the default; on Node's wasm
 * backend XNNPACK runs ~20x faster than plain JS when the gallery is pre-transposed, see BENCHMARKS.md), and plain JS (a reference,
 * and a fallback that needs no tfjs backend). Rows are chunked so no intermediate tensor exceeds
 * ~32 MB.
 */
import * as tf from '@tensorflow/tfjs';
import { LabError } from '../errors';

/** Row-major [rows, dim] features. */
export interface FeatureMatrix {
  data: Float32Array;
  rows: number;
  dim: number;
}

export type DistanceMetric = 'euclidean' | 'sqeuclidean' | 'cosine';

export interface DistanceOptions {
  metric?: DistanceMetric;
  /** 'tf' (default): tfjs matMul on the active backend; 'js': plain JavaScript. */
  impl?: 'tf' | 'js';
  /** Query rows per tfjs chunk; default keeps each chunk's output near 8M values. */
  chunkRows?: number;
}

const METRICS: readonly DistanceMetric[] = ['euclidean', 'sqeuclidean', 'cosine'];

export function checkFeatures(m: FeatureMatrix, what: string): void {
  if (!Number.isInteger(m.rows) || m.rows < 0 || !Number.isInteger(m.dim) || m.dim < 1) {
    throw new LabError('bad-argument', `The ${what} features must have a whole number of rows and a positive dimension; got ${m.rows} x ${m.dim}.`);
  }
  if (m.data.length !== m.rows * m.dim) {
    throw new LabError('bad-argument', `Expected ${m.rows} x ${m.dim} = ${m.rows * m.dim} ${what} feature values; got ${m.data.length}.`);
  }
}

/** Squared l2 norm of each row. */
export function rowSquaredNorms(m: FeatureMatrix): Float64Array {
  const out = new Float64Array(m.rows);
  const { data, dim } = m;
  for (let i = 0; i < m.rows; i++) {
    let s = 0;
    for (let k = i * dim, end = k + dim; k < end; k++) s += data[k] * data[k];
    out[i] = s;
  }
  return out;
}

/** A copy with every row scaled to unit l2 norm (zero rows stay zero). */
export function l2Normalize(m: FeatureMatrix): FeatureMatrix {
  const norms = rowSquaredNorms(m);
  const data = new Float32Array(m.data.length);
  for (let i = 0; i < m.rows; i++) {
    const n = Math.sqrt(norms[i]);
    const inv = n > 0 ? 1 / n : 0;
    for (let k = i * m.dim, end = k + m.dim; k < end; k++) data[k] = m.data[k] * inv;
  }
  return { data, rows: m.rows, dim: m.dim };
}

export interface DistanceChunk {
  /** First query row of the chunk. */
  start: number;
  rows: number;
  /** Row-major [rows, g.rows]. */
  data: Float32Array;
}

function prepare(q: FeatureMatrix, g: FeatureMatrix, opts: DistanceOptions): { q: FeatureMatrix; g: FeatureMatrix; metric: DistanceMetric } {
  const metric = opts.metric ?? 'euclidean';
  if (!METRICS.includes(metric)) {
    throw new LabError('bad-argument', `Unknown distance metric "${String(metric)}"; expected one of ${METRICS.join(', ')}.`);
  }
  checkFeatures(q, 'query');
  checkFeatures(g, 'gallery');
  if (q.dim !== g.dim) {
    throw new LabError('bad-argument', `Query features have dimension ${q.dim} but gallery features have ${g.dim}; they must come from the same model.`);
  }
  return metric === 'cosine' ? { q: l2Normalize(q), g: l2Normalize(g), metric } : { q, g, metric };
}

/**
 * The distance matrix in chunks of query rows, for callers that consume rows as they come
 * (ranking) and need not hold the whole matrix. Each chunk's buffer is fresh.
 */
export async function* distanceRowChunks(q0: FeatureMatrix, g0: FeatureMatrix, opts: DistanceOptions = {}): AsyncGenerator<DistanceChunk> {
  const { q, g, metric } = prepare(q0, g0, opts);
  const nq = q.rows;
  const ng = g.rows;
  if (nq === 0 || ng === 0) return;
  const rowsPerChunk = Math.max(1, Math.floor(opts.chunkRows ?? 8_000_000 / ng));
  const qn = rowSquaredNorms(q);
  const gn = rowSquaredNorms(g);
  const useTf = (opts.impl ?? 'tf') === 'tf';
  // Transpose the gallery once: matMul with transposeB=true is ~13x slower on wasm.
  const gT = useTf ? tf.tidy(() => tf.tensor2d(g.data, [ng, g.dim]).transpose()) : null;
  try {
    for (let start = 0; start < nq; start += rowsPerChunk) {
      const rows = Math.min(rowsPerChunk, nq - start);
      const qRows = q.data.subarray(start * q.dim, (start + rows) * q.dim);
      let data: Float32Array;
      if (gT) {
        const dots = tf.tidy(() => tf.matMul(tf.tensor2d(qRows, [rows, q.dim]), gT));
        try {
          data = new Float32Array((await dots.data()) as Float32Array);
        } finally {
          dots.dispose();
        }
      } else {
        data = dotsJs(qRows, rows, g);
      }
      finish(data, rows, qn, start, gn, metric);
      yield { start, rows, data };
    }
  } finally {
    gT?.dispose();
  }
}

/** Row-major [q.rows, g.rows] distance matrix. */
export async function distanceMatrix(q: FeatureMatrix, g: FeatureMatrix, opts: DistanceOptions = {}): Promise<Float32Array> {
  prepare(q, g, opts); // validate before allocating
  const out = new Float32Array(q.rows * g.rows);
  for await (const c of distanceRowChunks(q, g, opts)) out.set(c.data, c.start * g.rows);
  return out;
}

/** Turns dot products into the metric, in place, given squared row norms. */
function finish(out: Float32Array, rows: number, qn: Float64Array, qStart: number, gn: Float64Array, metric: DistanceMetric): void {
  const ng = gn.length;
  for (let i = 0; i < rows; i++) {
    const a = qn[qStart + i];
    const base = i * ng;
    for (let j = 0; j < ng; j++) {
      const dot = out[base + j];
      if (metric === 'cosine') {
        out[base + j] = 1 - dot;
      } else {
        const d2 = Math.max(0, a + gn[j] - 2 * dot);
        out[base + j] = metric === 'euclidean' ? Math.sqrt(d2) : d2;
      }
    }
  }
}

/** Dot products of `rows` query rows with every gallery row, in plain JS. */
function dotsJs(qd: Float32Array, rows: number, g: FeatureMatrix): Float32Array {
  const ng = g.rows;
  const d = g.dim;
  const out = new Float32Array(rows * ng);
  const gd = g.data;
  for (let i = 0; i < rows; i++) {
    const qo = i * d;
    for (let j = 0; j < ng; j++) {
      const go = j * d;
      let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      let k = 0;
      for (; k + 3 < d; k += 4) {
        s0 += qd[qo + k] * gd[go + k];
        s1 += qd[qo + k + 1] * gd[go + k + 1];
        s2 += qd[qo + k + 2] * gd[go + k + 2];
        s3 += qd[qo + k + 3] * gd[go + k + 3];
      }
      for (; k < d; k++) s0 += qd[qo + k] * gd[go + k];
      out[i * ng + j] = s0 + s1 + s2 + s3;
    }
  }
  return out;
}
