/**
 * Quick and full evaluation. The quick one scores the queries of a fixed, seeded subset of the
 * test identities against the WHOLE gallery; its 95% bootstrap interval over query identities
 * (bootstrap.ts) then says where the full-set number lies, since each query's AP is exactly the
 * AP it has in the full evaluation and the quick mAP is their mean over a random sample of
 * identities. The full one is every query.
 *
 * Why not also shrink the gallery (the identities' gallery images plus a share of the
 * distractors, as scenarios/subset.ts does for scans)? AP depends on how many wrong images can
 * outrank the right ones: on a gallery a fifth the size every query looks better, and the
 * interval missed the full-set mAP of every shipped model (ResNet-50 x0.5 on SynthReID S target:
 * 7.9% full, quick interval from 12.2%). So the gallery stays whole, and what makes the quick
 * score cheap is the embedding cache (embedding-cache.ts): a model state's gallery is embedded
 * once, and a full evaluation after a quick one embeds only the remaining queries.
 */
import type { ReidDataset, ReidSplit } from '../data/types';
import { subsetSplit } from '../data/types';
import { LabError } from '../errors';
import { Prng } from '../util/prng';
import type { EmbeddingCache } from './embedding-cache';
import { evaluateModel, type EvaluateOptions, type EvaluationResult } from './evaluate';
import type { Embedder } from './extract';

export type EvaluationKind = 'quick' | 'full';

/** Test identities whose queries a quick evaluation scores (of 150 in SynthReID S: about 140 of 512 queries). */
export const QUICK_IDENTITIES = 40;
/** The subset's seed: fixed, so every quick score uses the same images. */
export const QUICK_SEED = 1;

export interface KindOptions extends EvaluateOptions {
  kind: EvaluationKind;
  /** Quick: identities to keep (default QUICK_IDENTITIES) and the subset's seed (default QUICK_SEED). */
  identities?: number;
  subsetSeed?: number;
  /** Reuse embeddings of this model state (the key must change whenever the weights do). */
  cache?: { embeddings: EmbeddingCache; stateKey: string };
}

export interface KindResult extends EvaluationResult {
  kind: EvaluationKind;
  /** Test identities scored (those with a query). */
  testIdentities: number;
  /** Of how many in the dataset. */
  ofTestIdentities: number;
}

function identityCount(split: ReidSplit): number {
  return new Set([...split.pids].filter((p) => p > 0)).size;
}

/** The query rows a quick evaluation scores (null: every query, as in a full one). The gallery is always whole. */
export function quickQueryRows(query: ReidSplit, kind: EvaluationKind, identities = QUICK_IDENTITIES, seed = QUICK_SEED): number[] | null {
  if (kind === 'full') return null;
  if (!Number.isInteger(identities) || identities < 2) throw new LabError('bad-argument', `A quick evaluation needs at least 2 identities; got ${String(identities)}.`);
  const ids = [...new Set([...query.pids].filter((p) => p > 0))].sort((a, b) => a - b);
  if (identities >= ids.length) return null;
  const keep = new Set(new Prng(seed).fork('quick-evaluation').shuffle(ids).slice(0, identities));
  // Junk and distractor queries are never scored, so they are left out rather than embedded.
  const rows: number[] = [];
  for (let i = 0; i < query.count; i++) if (keep.has(query.pids[i])) rows.push(i);
  return rows;
}

export async function evaluateKind(model: Embedder, d: Pick<ReidDataset, 'query' | 'gallery'>, opts: KindOptions): Promise<KindResult> {
  const rows = quickQueryRows(d.query, opts.kind, opts.identities, opts.subsetSeed);
  const query = rows ? subsetSplit(d.query, rows) : d.query;
  const c = opts.cache;
  const extract: EvaluateOptions['extract'] = c
    ? (_split, which, o) => (which === 'query' ? c.embeddings.features(model, c.stateKey, d.query, rows, o) : c.embeddings.features(model, c.stateKey, d.gallery, null, o))
    : opts.extract;
  const r = await evaluateModel(model, { query, gallery: d.gallery }, { ...opts, ...(extract ? { extract } : {}) });
  return { ...r, kind: opts.kind, testIdentities: identityCount(query), ofTestIdentities: identityCount(d.query) };
}
