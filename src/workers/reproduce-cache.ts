/**
 * The Reproduce view's cell cache in IndexedDB (the browser's counterpart of the CLI's
 * runs/reproduce/results.json): a finished (row, seed) cell is stored as soon as it ends, so a
 * reload or a cancel resumes where it stopped. Keys are the engine's cell keys, which name the
 * settings and the model's weights fingerprint; the stored key text is compared on reuse.
 * Where IndexedDB is unavailable (private modes), the cache lives in memory for the session.
 */
import { memoryCache, type CachedCell, type ReproduceCache } from '../engine/scenarios/reproduce';
import type { Snapshot } from '../engine/scenarios/types';

const DB_NAME = 'prunability-lab-reproduce';
const CELLS = 'cells';
const BEFORE = 'before';

function openDb(): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(DB_NAME, 1);
    req.onupgradeneeded = () => {
      for (const s of [CELLS, BEFORE]) if (!req.result.objectStoreNames.contains(s)) req.result.createObjectStore(s);
    };
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error ?? new Error('IndexedDB could not be opened'));
  });
}

function request<T>(db: IDBDatabase, store: string, mode: IDBTransactionMode, body: (s: IDBObjectStore) => IDBRequest): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const tx = db.transaction(store, mode);
    const req = body(tx.objectStore(store));
    tx.oncomplete = () => resolve(req.result as T);
    tx.onerror = () => reject(tx.error ?? new Error('IndexedDB transaction failed'));
    tx.onabort = () => reject(tx.error ?? new Error('IndexedDB transaction aborted'));
  });
}

const fin = (v: unknown): boolean => typeof v === 'number' && Number.isFinite(v);

/** A stored score: MACs, params and the three accuracies, all finite numbers. */
export function isSnapshot(v: unknown): v is Snapshot {
  const s = v as Partial<Snapshot> | null;
  return !!s && typeof s === 'object' && fin(s.macs) && fin(s.params) && fin(s.mAP) && fin(s.rank1) && fin(s.rank5);
}

/** A stored cell the report can use: its key text and a result with both scores and its identities. */
export function isCachedCell(v: unknown): v is CachedCell {
  const c = v as Partial<CachedCell> | null;
  const r = c?.result as Partial<CachedCell['result']> | undefined;
  return (
    !!c && typeof c === 'object' && typeof c.text === 'string' && !!r && typeof r === 'object' && typeof r.scenario === 'string' &&
    isSnapshot(r.before) && isSnapshot(r.after) && Array.isArray(r.steps) && Array.isArray(r.trainingIdentities) && fin(r.seed) && fin(r.trainSteps) && fin(r.imagesSeen)
  );
}

/** The cache, and a close() for when the run ends. Falls back to memory, with a note, if IndexedDB fails. */
export async function openReproduceCache(): Promise<{ cache: ReproduceCache; close(): void; note?: string }> {
  let db: IDBDatabase;
  try {
    db = await openDb();
  } catch (e) {
    return { cache: memoryCache(), close() {}, note: `Finished cells are kept only until the page closes: this browser refused IndexedDB (${(e as Error)?.message ?? String(e)}).` };
  }
  const cache: ReproduceCache = {
    // A damaged stored cell is treated as missing: the cell runs again and its put replaces it.
    getCell: (k) => request<unknown>(db, CELLS, 'readonly', (s) => s.get(k)).then((v) => (isCachedCell(v) ? v : undefined)),
    putCell: (k, c) => request<unknown>(db, CELLS, 'readwrite', (s) => s.put(c, k)).then(() => {}),
    getBefore: (k) => request<unknown>(db, BEFORE, 'readonly', (s) => s.get(k)).then((v) => (isSnapshot(v) ? v : undefined)),
    putBefore: (k, snap) => request<unknown>(db, BEFORE, 'readwrite', (s) => s.put(snap, k)).then(() => {}),
  };
  return { cache, close: () => db.close() };
}

/** Forget every stored cell (the view's "start afresh"). */
export async function clearReproduceCache(): Promise<void> {
  const db = await openDb();
  try {
    await request(db, CELLS, 'readwrite', (s) => s.clear());
    await request(db, BEFORE, 'readwrite', (s) => s.clear());
  } finally {
    db.close();
  }
}
