/**
 * The current model as the lab keeps it between visits and across a worker crash: its weights
 * (the tfjs weights-manifest artifacts of weights-io.ts, float32, so a restore is bit-exact),
 * its lineage, and the identity of the dense model it was pruned from. Pure data and functions;
 * model-store.ts puts records in IndexedDB.
 *
 * A saved model is restored only onto the dense model it derives from: same name, same source,
 * same spec, same weights (a hash), so a zoo model retrained since, or another model in the URL,
 * never gets a pruned model that is not its own. A model the user opened has no name to load it
 * again by, so its record carries the dense weights too.
 */
import { LabError, isLabError } from '../engine/errors';
import type { ResNetSpec } from '../engine/model/spec';
import type { ParamArrays } from '../engine/model/init';
import { artifactsToModel, modelToArtifacts, type LoadedArrays } from '../engine/model/weights-io';
import type { Lineage, ModelSummary, PruneRecord } from './api';

export const SAVED_FORMAT = 'prunability-lab/saved-state@1';

/** What a dense model is, for "does this saved model derive from it". */
export interface DenseIdentity {
  name: string;
  source: ModelSummary['source'];
  /** The spec as canonical JSON (channel counts, input size, ...). */
  spec: string;
  /** FNV-1a over every parameter's float32 bytes, in spec order, hex. */
  weightsHash: string;
}

/** Weights as stored: the artifacts' parts a load needs. */
export interface StoredWeights {
  spec: ResNetSpec;
  weightSpecs: unknown[];
  weightData: ArrayBuffer;
}

/** The small record read first (the pointer): what is saved and where its weights are. */
export interface SavedModelMeta {
  format: typeof SAVED_FORMAT;
  /** Key of the weights record written in the same transaction. */
  weightsKey: string;
  savedAt: number;
  /** The model state's key (ModelState.key), so runs of a restored model keep their ids. */
  stateKey: string;
  dense: DenseIdentity;
  lineage: Lineage;
  /** The current model is the dense one itself (an opened, unpruned model). */
  currentIsDense: boolean;
  /** Bytes of weight data stored (current plus dense where carried). */
  bytes: number;
}

export interface SavedWeights {
  current: StoredWeights;
  /** Only for a dense model the user opened (not loadable by name). */
  dense?: StoredWeights;
}

/** JSON with object keys sorted, so the same spec always gives the same string. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .filter((k) => o[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

/** FNV-1a (32 bit) over the bytes of the arrays, in the order given. */
export function hashArrays(arrays: Iterable<Float32Array>): string {
  let h = 0x811c9dc5;
  for (const a of arrays) {
    const b = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
    for (let i = 0; i < b.length; i++) {
      h ^= b[i];
      h = Math.imul(h, 0x01000193);
    }
  }
  return (h >>> 0).toString(16).padStart(8, '0');
}

export function denseIdentity(name: string, source: ModelSummary['source'], spec: ResNetSpec, arrays: ParamArrays): DenseIdentity {
  const names = [...arrays.keys()].sort();
  return { name, source, spec: canonicalJson(spec), weightsHash: hashArrays(names.map((n) => arrays.get(n)!)) };
}

export function encodeWeights(spec: ResNetSpec, arrays: ParamArrays): StoredWeights {
  const a = modelToArtifacts(spec, arrays, { dtype: 'float32' });
  return { spec: (a.modelTopology as { spec: ResNetSpec }).spec, weightSpecs: a.weightSpecs ?? [], weightData: a.weightData as ArrayBuffer };
}

/** Decode and validate (spec, names, shapes, byte counts, finite values): a damaged record throws, never half-loads. */
export function decodeWeights(w: StoredWeights | undefined, what: string): LoadedArrays {
  if (!w || typeof w !== 'object' || !(w.weightData instanceof ArrayBuffer) || !Array.isArray(w.weightSpecs)) {
    throw new LabError('storage', `The saved ${what} is incomplete (no weight data was found with it).`);
  }
  try {
    return artifactsToModel({ format: 'prunability-lab/model@1', modelTopology: { spec: w.spec }, weightSpecs: w.weightSpecs as never, weightData: w.weightData });
  } catch (e) {
    throw new LabError('storage', `The saved ${what} is damaged: ${isLabError(e) ? e.message : (e as Error).message}`);
  }
}

export interface SaveInput {
  weightsKey: string;
  stateKey: string;
  savedAt: number;
  dense: DenseIdentity;
  lineage: Lineage;
  current: { spec: ResNetSpec; arrays: ParamArrays };
  /** The opened dense model's weights, when the dense is not loadable by name. */
  denseWeights?: { spec: ResNetSpec; arrays: ParamArrays };
  currentIsDense: boolean;
}

export function encodeSaved(x: SaveInput): { meta: SavedModelMeta; weights: SavedWeights } {
  const current = encodeWeights(x.current.spec, x.current.arrays);
  const dense = x.denseWeights && !x.currentIsDense ? encodeWeights(x.denseWeights.spec, x.denseWeights.arrays) : undefined;
  const bytes = current.weightData.byteLength + (dense?.weightData.byteLength ?? 0);
  return {
    meta: {
      format: SAVED_FORMAT,
      weightsKey: x.weightsKey,
      savedAt: x.savedAt,
      stateKey: x.stateKey,
      dense: x.dense,
      lineage: x.lineage,
      currentIsDense: x.currentIsDense,
      bytes,
    },
    weights: dense ? { current, dense } : { current },
  };
}

/** `damaged`: the record itself is unreadable (not merely from another dense model), so it can go. */
export type SavedMatch = { ok: true; bringsDense: boolean } | { ok: false; reason: string; damaged?: boolean };

function describeDense(d: { name: string; source: string }): string {
  return `${d.name} (${d.source === 'zoo' ? 'model zoo' : d.source === 'random' ? 'random weights' : 'your model'})`;
}

/** Does the saved model belong onto the loaded dense model? A reason in words when not. */
export function matchSaved(meta: unknown, loaded: DenseIdentity): SavedMatch {
  const m = meta as Partial<SavedModelMeta> | null;
  if (!m || typeof m !== 'object' || m.format !== SAVED_FORMAT || !m.dense || typeof m.dense !== 'object' || !m.lineage || typeof m.weightsKey !== 'string') {
    return { ok: false, reason: 'it was saved in a format this version of the lab does not read', damaged: true };
  }
  // Every field the page later shows or keys runs by: a damaged record must not reach it.
  const lineageProblem = checkLineage(m.lineage);
  if (lineageProblem || typeof m.stateKey !== 'string' || typeof m.currentIsDense !== 'boolean' || !(typeof m.bytes === 'number' && m.bytes >= 0)) {
    return { ok: false, reason: `its record is damaged (${lineageProblem ?? 'stateKey, currentIsDense or bytes is missing or of the wrong type'})`, damaged: true };
  }
  // An opened model travels with its own dense weights: it replaces whatever the page loaded.
  if (m.dense.source === 'user') return { ok: true, bringsDense: true };
  if (m.dense.name !== loaded.name || m.dense.source !== loaded.source) {
    return { ok: false, reason: `it was pruned from ${describeDense(m.dense)}, and the lab now runs ${describeDense(loaded)}` };
  }
  if (m.dense.spec !== loaded.spec) return { ok: false, reason: `${describeDense(loaded)} has a different architecture from the one it was pruned from` };
  if (m.dense.weightsHash !== loaded.weightsHash) return { ok: false, reason: `the weights of ${describeDense(loaded)} changed since it was pruned from them` };
  return { ok: true, bringsDense: false };
}

const fin = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** What is wrong with a stored lineage (the first problem), or null. */
export function checkLineage(value: unknown): string | null {
  const l = value as Partial<Lineage> | null;
  if (!l || typeof l !== 'object') return 'its lineage is not an object';
  if (typeof l.base !== 'string' || typeof l.baseSource !== 'string') return 'its lineage names no base model';
  if (!(fin(l.fineTuneSteps) && Number.isInteger(l.fineTuneSteps) && l.fineTuneSteps >= 0)) return `its lineage's fineTuneSteps is ${String(l.fineTuneSteps)}, not a whole number`;
  if (l.prune !== undefined) {
    const p = l.prune as Partial<PruneRecord> | null;
    if (!p || typeof p !== 'object') return 'its prune record is not an object';
    for (const k of ['criterion', 'criterionName', 'strategy', 'scope', 'ranking'] as const) if (typeof p[k] !== 'string') return `its prune record's ${k} is not a text`;
    for (const k of ['rate', 'removedFraction'] as const) if (!(fin(p[k]) && p[k] >= 0 && p[k] <= 1)) return `its prune record's ${k} is ${String(p[k])}, not a fraction`;
  }
  return null;
}

/** "pruned with L1 norm at 50% of channels, fine-tuned 4 steps" */
export function describeLineage(l: Lineage): string {
  const parts: string[] = [];
  if (l.prune) parts.push(`pruned with ${l.prune.criterionName} (${Math.round(l.prune.removedFraction * 100)}% of prunable channels removed, ${l.prune.strategy})`);
  if (l.fineTuneSteps > 0) parts.push(`fine-tuned ${l.fineTuneSteps} steps`);
  return `${l.base}${parts.length ? `, ${parts.join(', ')}` : ''}`;
}

/** "the pruned model", "the fine-tuned model" or "your model" */
export function whatIsSaved(meta: SavedModelMeta): string {
  if (meta.lineage.fineTuneSteps > 0) return 'the fine-tuned model';
  if (meta.lineage.prune) return 'the pruned model';
  return 'your model';
}

/** Why a model could not be stored, as a sentence: a full quota is named as such, never swallowed. */
export function storageFailureMessage(e: unknown): string {
  const name = (e as { name?: string } | null)?.name ?? '';
  const msg = e instanceof Error || (typeof DOMException !== 'undefined' && e instanceof DOMException) ? (e as Error).message : String(e);
  const why =
    name === 'QuotaExceededError' || /quota/i.test(msg)
      ? 'the browser\u2019s storage for this site is full (QuotaExceededError)'
      : /indexeddb is not available|indexedDB is not defined/i.test(msg) || name === 'ReferenceError'
        ? 'this browser offers no IndexedDB here (a private window, or storage is switched off)'
        : `the browser refused to store it (${name || 'Error'}: ${msg})`;
  return `The current model could not be saved for a reload or a crash: ${why}. It stays loaded until the page closes; export it to keep it, or free some space.`;
}
