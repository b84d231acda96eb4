/**
 * Stable ascending argsort of Float32 values, the order numpy's `argsort(kind='stable')` gives:
 * by value, ties by index. A least-significant-digit radix sort over the float's bits (mapped
 * so unsigned integer order equals float order) is O(n) and allocation-free per row, which is
 * what lets a 3,000 x 15,000 ranking run in well under a second.
 *
 * -0 is treated as +0 (equal values, so index order decides, as in numpy). NaN must be
 * rejected by the caller: its bits would sort it first or last depending on its sign.
 */

const BITS = 11;
const BUCKETS = 1 << BITS;
const MASK = BUCKETS - 1;

/** Reusable buffers for argsorting many rows of the same length. */
export class Float32Argsort {
  private readonly keys: Uint32Array;
  private readonly keysTmp: Uint32Array;
  private readonly idxTmp: Uint32Array;
  private readonly counts = new Uint32Array(3 * BUCKETS);
  private readonly bits: Uint32Array;
  private readonly floats: Float32Array;

  constructor(readonly length: number) {
    this.keys = new Uint32Array(length);
    this.keysTmp = new Uint32Array(length);
    this.idxTmp = new Uint32Array(length);
    const buf = new ArrayBuffer(4 * length);
    this.floats = new Float32Array(buf);
    this.bits = new Uint32Array(buf);
  }

  /**
   * Writes into `out` the indices of `values` (length `this.length`) in ascending order,
   * ties by index. `values` may be a subarray of a larger matrix.
   */
  sort(values: Float32Array, out: Uint32Array): Uint32Array {
    const n = this.length;
    if (values.length !== n || out.length !== n) {
      throw new RangeError(`Float32Argsort of length ${n} got ${values.length} values and an output of ${out.length}.`);
    }
    const { keys, keysTmp, idxTmp, counts, bits, floats } = this;
    floats.set(values);
    counts.fill(0);
    for (let i = 0; i < n; i++) {
      let u = bits[i];
      if (u === 0x80000000) u = 0; // -0 -> +0
      // Negative floats: flip all bits (larger magnitude sorts first); positives: set the sign bit.
      u = u & 0x80000000 ? ~u >>> 0 : (u | 0x80000000) >>> 0;
      keys[i] = u;
      counts[u & MASK]++;
      counts[BUCKETS + ((u >>> BITS) & MASK)]++;
      counts[2 * BUCKETS + (u >>> (2 * BITS))]++;
    }
    // Exclusive prefix sums of the three digit histograms.
    for (let p = 0; p < 3; p++) {
      let sum = 0;
      const base = p * BUCKETS;
      for (let b = 0; b < BUCKETS; b++) {
        const c = counts[base + b];
        counts[base + b] = sum;
        sum += c;
      }
    }
    // Pass 1 (low digit): identity order in, so ties keep index order (stability).
    for (let i = 0; i < n; i++) {
      const k = keys[i];
      const pos = counts[k & MASK]++;
      keysTmp[pos] = k;
      idxTmp[pos] = i;
    }
    // Pass 2 (middle digit): tmp -> keys/out.
    for (let i = 0; i < n; i++) {
      const k = keysTmp[i];
      const pos = counts[BUCKETS + ((k >>> BITS) & MASK)]++;
      keys[pos] = k;
      out[pos] = idxTmp[i];
    }
    // Pass 3 (high digit): keys/out -> tmp, then copy the indices back.
    for (let i = 0; i < n; i++) {
      const k = keys[i];
      const pos = counts[2 * BUCKETS + (k >>> (2 * BITS))]++;
      idxTmp[pos] = out[i];
    }
    out.set(idxTmp);
    return out;
  }
}

/** One-off stable argsort (allocates; use Float32Argsort for many rows). */
export function argsortFloat32(values: Float32Array): Uint32Array {
  const out = new Uint32Array(values.length);
  return new Float32Argsort(values.length).sort(values, out);
}
