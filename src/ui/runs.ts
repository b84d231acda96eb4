/**
 * A run is one model state the lab scored: the dense baseline, a pruned model, a fine-tuned one.
 * Runs persist in IndexedDB (they survive a reload) and export as CSV and JSON. Pure data and
 * small helpers; the Pareto front is the set of runs no other run beats on both cost and accuracy.
 */
import { runProblem } from './run-record';

export interface Run {
  /** Unique; re-evaluating the same model state updates its run instead of adding one. */
  id: string;
  createdAt: number;
  kind: 'baseline' | 'pruned' | 'fine-tuned';
  model: string;
  modelSource: string;
  dataset: string;
  backend: string;
  criterion: string | null;
  criterionName: string | null;
  strategy: string | null;
  /** Fraction of the prunable channels removed. */
  rate: number | null;
  scope: string | null;
  ranking: string | null;
  macs: number;
  params: number;
  /** Median latency, batch 1; with its p10-p90 spread (absent in runs saved before). */
  latencyMs: number | null;
  latencyP10?: number | null;
  latencyP90?: number | null;
  mAP: number;
  rank1: number;
  rank5: number;
  fineTuneSteps: number;
  /** BatchNorm statistics re-estimated on this many training images (0 or absent: not recalibrated). */
  bnRecalibrated?: number;
  /** Fine-tuned with PTL: evaluated with the side branch; macs/params above include it. (Absent in runs saved before.) */
  ptl?: boolean;
  /** The PTL side branch's share of macs/params (null without PTL). */
  branchMacs?: number | null;
  branchParams?: number | null;
  /** 'card': the zoo model card's figures, shown at start-up instead of an evaluation; never measured on this page. Absent: measured here. */
  source?: 'card';
  /**
   * Which evaluation the scores come from: 'quick' (the queries of a fixed subset of identities,
   * whole gallery) or 'full'. Absent in runs saved before quick evaluations existed: those were full.
   */
  evaluation?: 'quick' | 'full';
  /** The 95% bootstrap interval over query identities, as fractions (null: none, e.g. card figures). */
  mAPLow?: number | null;
  mAPHigh?: number | null;
  rank1Low?: number | null;
  rank1High?: number | null;
}

/** The run's evaluation; runs saved before quick evaluations were full. */
export function evaluationOf(r: Run): 'quick' | 'full' {
  return r.evaluation ?? 'full';
}

/** The 95% interval of a run's metric, or null. */
export function intervalOf(r: Run, metric: Metric): [number, number] | null {
  const lo = metric === 'mAP' ? r.mAPLow : r.rank1Low;
  const hi = metric === 'mAP' ? r.mAPHigh : r.rank1High;
  return typeof lo === 'number' && typeof hi === 'number' ? [lo, hi] : null;
}

/** A quick score never replaces a full one of the same run (the full one is the better number). */
export function keepsExisting(existing: Run | undefined, next: Run): boolean {
  return Boolean(existing && evaluationOf(existing) === 'full' && evaluationOf(next) === 'quick' && existing.source !== 'card');
}

export type CostAxis = 'macs' | 'params' | 'latency';
export type Metric = 'mAP' | 'rank1';

export function costOf(r: Run, axis: CostAxis): number | null {
  return axis === 'macs' ? r.macs : axis === 'params' ? r.params : r.latencyMs;
}

/** Runs not dominated by another (lower or equal cost and higher or equal accuracy, one strictly), by cost. */
export function paretoFront<T>(points: readonly T[], x: (p: T) => number, y: (p: T) => number): T[] {
  const sorted = [...points].sort((a, b) => x(a) - x(b) || y(b) - y(a));
  const out: T[] = [];
  let best = -Infinity;
  for (const p of sorted) {
    if (y(p) > best) {
      out.push(p);
      best = y(p);
    }
  }
  return out;
}

export const RUN_FIELDS: (keyof Run)[] = [
  'id', 'createdAt', 'kind', 'model', 'modelSource', 'dataset', 'backend', 'criterion', 'criterionName', 'strategy',
  'rate', 'scope', 'ranking', 'macs', 'params', 'latencyMs', 'latencyP10', 'latencyP90', 'mAP', 'rank1', 'rank5', 'fineTuneSteps',
  'bnRecalibrated', 'ptl', 'branchMacs', 'branchParams', 'source', 'evaluation', 'mAPLow', 'mAPHigh', 'rank1Low', 'rank1High',
];

function csvCell(v: unknown): string {
  if (v === null || v === undefined) return '';
  const s = typeof v === 'number' ? String(v) : String(v);
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function runsToCsv(runs: readonly Run[]): string {
  const lines = [RUN_FIELDS.join(',')];
  for (const r of runs) lines.push(RUN_FIELDS.map((f) => csvCell(f === 'createdAt' ? new Date(r.createdAt).toISOString() : r[f])).join(','));
  return lines.join('\n') + '\n';
}

// ---- IndexedDB ----

const DB_NAME = 'prunability-lab';
const STORE = 'runs';
/** Stored records that are not valid runs, moved out of the way (version 2 of the database). */
const QUARANTINE = 'runs-quarantine';

function openDb(): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(DB_NAME, 2);
    req.onupgradeneeded = () => {
      if (!req.result.objectStoreNames.contains(STORE)) req.result.createObjectStore(STORE, { keyPath: 'id' });
      if (!req.result.objectStoreNames.contains(QUARANTINE)) req.result.createObjectStore(QUARANTINE, { autoIncrement: true });
    };
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error ?? new Error('IndexedDB could not be opened'));
  });
}

async function withStore<T>(mode: IDBTransactionMode, body: (s: IDBObjectStore) => IDBRequest<T>): Promise<T> {
  const db = await openDb();
  try {
    return await new Promise<T>((resolve, reject) => {
      const tx = db.transaction(STORE, mode);
      const req = body(tx.objectStore(STORE));
      tx.oncomplete = () => resolve(req.result);
      tx.onerror = () => reject(tx.error ?? new Error('IndexedDB transaction failed'));
      tx.onabort = () => reject(tx.error ?? new Error('IndexedDB transaction aborted'));
    });
  } finally {
    db.close();
  }
}

export interface LoadedRuns {
  runs: Run[];
  /** Records that were not valid runs: moved to the quarantine store, with why. */
  quarantined: { id: string; reason: string }[];
}

/**
 * Every stored run, checked field by field (run-record.ts). Records that fail move to the
 * quarantine store in the same transaction, so they can neither break this load nor the next.
 */
export async function loadRuns(): Promise<LoadedRuns> {
  const db = await openDb();
  try {
    return await new Promise<LoadedRuns>((resolve, reject) => {
      const tx = db.transaction([STORE, QUARANTINE], 'readwrite');
      const out: LoadedRuns = { runs: [], quarantined: [] };
      const cursor = tx.objectStore(STORE).openCursor();
      cursor.onsuccess = () => {
        const c = cursor.result;
        if (!c) return;
        const reason = runProblem(c.value);
        if (reason === null) out.runs.push(c.value as Run);
        else {
          out.quarantined.push({ id: String(c.primaryKey), reason });
          tx.objectStore(QUARANTINE).put({ key: c.primaryKey, value: c.value, reason, at: Date.now() });
          c.delete();
        }
        c.continue();
      };
      tx.oncomplete = () => resolve({ runs: out.runs.sort((a, b) => a.createdAt - b.createdAt), quarantined: out.quarantined });
      tx.onerror = () => reject(tx.error ?? new Error('IndexedDB transaction failed'));
      tx.onabort = () => reject(tx.error ?? new Error('IndexedDB transaction aborted'));
    });
  } finally {
    db.close();
  }
}

export function saveRun(run: Run): Promise<unknown> {
  return withStore('readwrite', (s) => s.put(run));
}

export async function clearRuns(): Promise<void> {
  const db = await openDb();
  try {
    await new Promise<void>((resolve, reject) => {
      const tx = db.transaction([STORE, QUARANTINE], 'readwrite');
      tx.objectStore(STORE).clear();
      tx.objectStore(QUARANTINE).clear();
      tx.oncomplete = () => resolve();
      tx.onerror = () => reject(tx.error ?? new Error('IndexedDB transaction failed'));
      tx.onabort = () => reject(tx.error ?? new Error('IndexedDB transaction aborted'));
    });
  } finally {
    db.close();
  }
}

/** Save a text or binary file from the page (the files never leave the machine). */
export function downloadFile(name: string, data: BlobPart, type = 'application/octet-stream'): void {
  const url = URL.createObjectURL(new Blob([data], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
