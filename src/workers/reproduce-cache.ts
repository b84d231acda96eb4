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

/** The cache, and a close() for when the run ends. Falls back to memory, with a note, if IndexedDB fails. */
export async function openReproduceCache(): Promise<{ cache: ReproduceCache; close(): void; note?: string }> {
  let db: IDBDatabase;
  try {
    db = await openDb();
  } catch (e) {
    return { cache: memoryCache(), close() {}, note: `Finished cells are kept only until the page closes: this browser refused IndexedDB (${(e as Error)?.message ?? String(e)}).` };
  }
  const cache: ReproduceCache = {
    getCell: (k) => request<CachedCell | undefined>(db, CELLS, 'readonly', (s) => s.get(k)),
    putCell: (k, c) => request<unknown>(db, CELLS, 'readwrite', (s) => s.put(c, k)).then(() => {}),
    getBefore: (k) => request<Snapshot | undefined>(db, BEFORE, 'readonly', (s) => s.get(k)),
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
