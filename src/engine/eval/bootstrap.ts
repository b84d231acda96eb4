/**
 * A 95% percentile-bootstrap interval for mAP and rank-1, resampling query IDENTITIES (not
 * single queries): the queries of one person are correlated (same clothes, same gallery), so
 * the identity is the unit the test set samples. One replicate draws as many identities as there
 * are, with replacement, and takes the statistic over all queries of the drawn identities (each
 * copy counted), i.e. sum of per-query values / number of queries, as mAP itself is computed.
 * The interval is the replicates' 2.5th and 97.5th percentiles (linear interpolation between
 * order statistics, numpy's default).
 *
 * Seeded (util/prng.ts): the same inputs and seed give the same interval.
 */
import { LabError } from '../errors';
import { Prng } from '../util/prng';

export interface BootstrapOptions {
  /** Replicates (default 1000). */
  resamples?: number;
  /** Central coverage (default 0.95). */
  level?: number;
  seed?: number;
}

export interface BootstrapInterval {
  /** The statistic on the data as given (the point estimate). */
  estimate: number;
  low: number;
  high: number;
  level: number;
  resamples: number;
  /** Identities resampled (those with at least one scored query). */
  identities: number;
}

/** The q-quantile of ascending `sorted` (0 <= q <= 1), interpolating linearly between order statistics. */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (n === 0) throw new LabError('bad-argument', 'A quantile of no values is undefined.');
  const pos = q * (n - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(n - 1, lo + 1);
  return sorted[lo] + (pos - lo) * (sorted[hi] - sorted[lo]);
}

/**
 * Bootstrap interval of the mean of `values` (per query; NaN = skipped query, left out) with
 * queries grouped by `identities` (one per value).
 */
export function bootstrapByIdentity(values: ArrayLike<number>, identities: ArrayLike<number>, opts: BootstrapOptions = {}): BootstrapInterval {
  if (values.length !== identities.length) {
    throw new LabError('bad-argument', `Expected one identity per query value; got ${identities.length} identities for ${values.length} values.`);
  }
  const resamples = opts.resamples ?? 1000;
  const level = opts.level ?? 0.95;
  if (!Number.isInteger(resamples) || resamples < 1) throw new LabError('bad-argument', `Bootstrap resamples must be a positive whole number; got ${resamples}.`);
  if (!(level > 0 && level < 1)) throw new LabError('bad-argument', `The interval's level must be above 0 and below 1; got ${level}.`);
  // Per identity: the sum of its scored queries' values and how many there are.
  const index = new Map<number, number>();
  const sums: number[] = [];
  const counts: number[] = [];
  let total = 0;
  let n = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (Number.isNaN(v)) continue;
    let k = index.get(identities[i]);
    if (k === undefined) {
      k = sums.length;
      index.set(identities[i], k);
      sums.push(0);
      counts.push(0);
    }
    sums[k] += v;
    counts[k]++;
    total += v;
    n++;
  }
  const m = sums.length;
  if (m === 0) throw new LabError('bad-dataset', 'No query was scored, so there is nothing to put an interval on.');
  const prng = new Prng(opts.seed ?? 1).fork('bootstrap');
  const reps = new Float64Array(resamples);
  for (let b = 0; b < resamples; b++) {
    let s = 0;
    let c = 0;
    for (let j = 0; j < m; j++) {
      const k = Math.floor(prng.next() * m);
      s += sums[k];
      c += counts[k];
    }
    reps[b] = s / c;
  }
  reps.sort();
  const tail = (1 - level) / 2;
  return { estimate: total / n, low: quantileSorted(reps, tail), high: quantileSorted(reps, 1 - tail), level, resamples, identities: m };
}
