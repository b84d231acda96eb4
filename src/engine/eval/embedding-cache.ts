/**
 * Embeddings kept per model state and split, so the quick and the full evaluation, the ranked
 * lists and the sensitivity scan's unpruned baseline never run the network twice on the same
 * images with the same weights. Rows are cached one by one: a quick evaluation (a subset of the
 * test identities) fills part of the split, the full evaluation then embeds only the rest.
 *
 * Keys: the caller's model-state key (it must change whenever the weights change: prune,
 * fine-tune, reset to another model) and the split object itself (a new dataset is a new object,
 * and its entries go with it). Test-time options (flip, normalize) are part of the key; masked
 * forward passes are never cached. At most `maxStates` model states are kept (least recently
 * used goes first); pinned states (the dense model) stay.
 */
import { subsetSplit, type ReidSplit } from '../data/types';
import { embeddingDim } from '../model/spec';
import type { FeatureMatrix } from './distance';
import { extractFeatures, type Embedder, type ExtractOptions } from './extract';

interface Entry {
  dim: number;
  data: Float32Array;
  /** 1 where the row's embedding is in `data`. */
  have: Uint8Array;
}

export class EmbeddingCache {
  /** Model-state key -> split -> rows; Map order is recency (the last used is last). */
  private readonly states = new Map<string, WeakMap<ReidSplit, Map<string, Entry>>>();
  private readonly pinned = new Set<string>();
  /** Images run through the network by this cache since it was made (what a cache hit saves). */
  extractedImages = 0;

  constructor(private readonly maxStates = 4) {}

  /** Never evict this state (the dense model: its gallery is embedded once per dataset). */
  pin(stateKey: string): void {
    this.pinned.add(stateKey);
  }

  unpin(stateKey: string): void {
    this.pinned.delete(stateKey);
  }

  forget(stateKey: string): void {
    this.states.delete(stateKey);
    this.pinned.delete(stateKey);
  }

  /** Rows `rows` of `split` (all rows when null), in that order, embedding only those not cached. */
  async features(model: Embedder, stateKey: string, split: ReidSplit, rows: readonly number[] | null, opts: ExtractOptions = {}): Promise<FeatureMatrix> {
    if (opts.masks) return extractFeatures(model, rows ? subsetSplit(split, rows) : split, opts);
    const entry = this.entry(stateKey, split, model, opts);
    const { dim } = entry;
    const wanted = rows ?? Array.from({ length: split.count }, (_, i) => i);
    const missing = wanted.filter((i) => !entry.have[i]);
    const cached = wanted.length - missing.length;
    opts.onProgress?.(cached, wanted.length);
    if (missing.length > 0) {
      const sub = missing.length === split.count ? split : subsetSplit(split, missing);
      const f = await extractFeatures(model, sub, { ...opts, onProgress: (d) => opts.onProgress?.(cached + d, wanted.length) });
      for (let j = 0; j < missing.length; j++) {
        entry.data.set(f.data.subarray(j * dim, (j + 1) * dim), missing[j] * dim);
        entry.have[missing[j]] = 1;
      }
      this.extractedImages += missing.length;
    }
    if (!rows) return { data: entry.data.slice(), rows: split.count, dim };
    const out = new Float32Array(rows.length * dim);
    for (let j = 0; j < rows.length; j++) out.set(entry.data.subarray(rows[j] * dim, (rows[j] + 1) * dim), j * dim);
    return { data: out, rows: rows.length, dim };
  }

  /** Rows of `split` already embedded for this state and options. */
  cachedRows(stateKey: string, split: ReidSplit, opts: Pick<ExtractOptions, 'flip' | 'normalize'> = {}): number {
    const e = this.states.get(stateKey)?.get(split)?.get(optionsKey(opts));
    return e ? e.have.reduce((a, b) => a + b, 0) : 0;
  }

  private entry(stateKey: string, split: ReidSplit, model: Embedder, opts: ExtractOptions): Entry {
    let bySplit = this.states.get(stateKey);
    if (bySplit) this.states.delete(stateKey); // re-inserted below: most recent last
    else bySplit = new WeakMap();
    this.states.set(stateKey, bySplit);
    this.evict();
    let byOpts = bySplit.get(split);
    if (!byOpts) bySplit.set(split, (byOpts = new Map()));
    const key = optionsKey(opts);
    const dim = embeddingDim(model.spec);
    let e = byOpts.get(key);
    if (!e || e.dim !== dim) byOpts.set(key, (e = { dim, data: new Float32Array(split.count * dim), have: new Uint8Array(split.count) }));
    return e;
  }

  private evict(): void {
    let unpinned = [...this.states.keys()].filter((k) => !this.pinned.has(k));
    while (unpinned.length > this.maxStates) {
      this.states.delete(unpinned[0]);
      unpinned = unpinned.slice(1);
    }
  }
}

function optionsKey(opts: Pick<ExtractOptions, 'flip' | 'normalize'>): string {
  return `${opts.flip ? 'flip' : 'plain'}|${opts.normalize ? 'l2' : 'raw'}`;
}
