/**
 * Keeps the worker's current model in IndexedDB, so it survives a reload and a crash of the
 * worker. After every new model state (prune, fine-tune, an opened model) the weights are read
 * back at once (a consistent snapshot) and written in the background; reset clears the record.
 *
 * Atomicity: the weights go under a new key and the pointer record ('current') is switched to
 * them in ONE readwrite transaction, which also deletes older weights. IndexedDB commits a
 * transaction entirely or not at all, so a crash mid-save leaves the previous model in place;
 * and a record is decoded with full validation (saved-model.ts), so even a damaged one is
 * refused, never half-loaded.
 *
 * Failures (a full quota, no IndexedDB) go to the page as sentences; the model stays loaded.
 */
import { LabError } from '../engine/errors';
import { ReidModel } from '../engine/model/model';
import type { ModelState, ModelStoreEvent, RestoreOutcome } from './api';
import type { LabSession } from './session';
import {
  decodeWeights,
  denseIdentity,
  describeLineage,
  encodeSaved,
  matchSaved,
  storageFailureMessage,
  whatIsSaved,
  type DenseIdentity,
  type SavedModelMeta,
  type SavedWeights,
} from './saved-model';

const DB_NAME = 'prunability-lab-model';
const META = 'pointer';
const WEIGHTS = 'weights';
const POINTER_KEY = 'current';

function openDb(): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    if (typeof indexedDB === 'undefined') {
      reject(new LabError('storage', 'IndexedDB is not available in this browser context.'));
      return;
    }
    const req = indexedDB.open(DB_NAME, 1);
    req.onupgradeneeded = () => {
      const db = req.result;
      if (!db.objectStoreNames.contains(META)) db.createObjectStore(META);
      if (!db.objectStoreNames.contains(WEIGHTS)) db.createObjectStore(WEIGHTS);
    };
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error ?? new Error('IndexedDB could not be opened'));
    req.onblocked = () => reject(new Error('IndexedDB is blocked by another tab of the lab'));
  });
}

/** Run `body` in one transaction over both stores; resolves when it committed. */
async function transact<T>(mode: IDBTransactionMode, body: (meta: IDBObjectStore, weights: IDBObjectStore, done: (v: T) => void) => void): Promise<T> {
  const db = await openDb();
  try {
    return await new Promise<T>((resolve, reject) => {
      const tx = db.transaction([META, WEIGHTS], mode);
      let value: T;
      tx.oncomplete = () => resolve(value);
      tx.onerror = () => reject(tx.error ?? new Error('IndexedDB transaction failed'));
      tx.onabort = () => reject(tx.error ?? new Error('IndexedDB transaction aborted'));
      try {
        body(tx.objectStore(META), tx.objectStore(WEIGHTS), (v) => (value = v));
      } catch (e) {
        tx.abort();
        reject(e);
      }
    });
  } finally {
    db.close();
  }
}

/** Write the weights under their new key, switch the pointer, drop older weights: one transaction. */
export function writeSaved(meta: SavedModelMeta, weights: SavedWeights): Promise<void> {
  return transact<void>('readwrite', (m, w) => {
    w.put(weights, meta.weightsKey);
    m.put(meta, POINTER_KEY);
    const keys = w.getAllKeys();
    keys.onsuccess = () => {
      for (const k of keys.result) if (k !== meta.weightsKey) w.delete(k);
    };
  });
}

export function clearSaved(): Promise<void> {
  return transact<void>('readwrite', (m, w) => {
    m.clear();
    w.clear();
  });
}

export function readMeta(): Promise<unknown> {
  return transact<unknown>('readonly', (m, _w, done) => {
    const r = m.get(POINTER_KEY);
    r.onsuccess = () => done(r.result);
  });
}

export function readWeights(key: string): Promise<SavedWeights | undefined> {
  return transact<SavedWeights | undefined>('readonly', (_m, w, done) => {
    const r = w.get(key);
    r.onsuccess = () => done(r.result as SavedWeights | undefined);
  });
}

type Write = { kind: 'save'; meta: SavedModelMeta; weights: SavedWeights; t0: number; readMs: number } | { kind: 'clear' };

/** The worker's side: watches the session's model state and keeps IndexedDB in step with it. */
export class ModelPersistence {
  private lastKey: string | null = null;
  private pending: Write | null = null;
  private draining: Promise<void> | null = null;
  private listeners: ((e: ModelStoreEvent) => void)[] = [];
  private identities = new WeakMap<ReidModel, Promise<DenseIdentity>>();
  private failWith: string | null = null;
  private writeCounter = 0;
  last: ModelStoreEvent | null = null;

  constructor(private readonly session: LabSession) {}

  onEvent(listener: (e: ModelStoreEvent) => void): void {
    this.listeners.push(listener);
  }

  private emit(e: ModelStoreEvent): void {
    this.last = e;
    for (const l of this.listeners) {
      try {
        l(e);
      } catch {
        // a listener of a page that went away
      }
    }
  }

  /** Test-only: make the next writes fail as a full disk would (a real QuotaExceededError). */
  simulateFailure(kind: 'quota' | null): void {
    this.failWith = kind;
  }

  private identity(model: ReidModel, name: string, source: DenseIdentity['source']): Promise<DenseIdentity> {
    let p = this.identities.get(model);
    if (!p) {
      p = model.toArrays().then((arrays) => denseIdentity(name, source, model.spec, arrays));
      this.identities.set(model, p);
    }
    return p;
  }

  /**
   * Call after anything that may have made a new model state. Reads the weights back before
   * returning (so later changes cannot tear the snapshot); the write itself runs in the background.
   */
  async sync(): Promise<void> {
    const st = this.session.modelState;
    const dense = this.session.denseModel;
    const current = this.session.currentModel;
    if (!st || !dense || !current || st.key === this.lastKey) return;
    this.lastKey = st.key ?? null;
    const isDense = current === dense.model;
    // A PTL side branch lives outside the model's weights: keeping the backbone alone would
    // restore a different model, so such a state clears the record instead (and says so).
    if ((st.lineage as { ptl?: unknown }).ptl) {
      this.enqueue({ kind: 'clear' });
      this.emit({ kind: 'failed', message: 'A model fine-tuned with a PTL side branch is not kept for a reload or a crash (only plain pruned and fine-tuned models are); export it to keep it.' });
      return;
    }
    if (isDense && dense.source !== 'user') {
      this.enqueue({ kind: 'clear' });
      return;
    }
    try {
      const t0 = performance.now();
      const id = await this.identity(dense.model, dense.name, dense.source);
      const arrays = await current.toArrays();
      const denseArrays = dense.source === 'user' && !isDense ? await dense.model.toArrays() : undefined;
      const readMs = performance.now() - t0;
      const { meta, weights } = encodeSaved({
        weightsKey: `${st.key}#${++this.writeCounter}`,
        stateKey: st.key ?? String(st.stateId),
        savedAt: Date.now(),
        dense: id,
        lineage: st.lineage,
        current: { spec: current.spec, arrays },
        ...(denseArrays ? { denseWeights: { spec: dense.model.spec, arrays: denseArrays } } : {}),
        currentIsDense: isDense,
      });
      this.enqueue({ kind: 'save', meta, weights, t0, readMs });
    } catch (e) {
      this.emit({ kind: 'failed', message: storageFailureMessage(e) });
    }
  }

  private enqueue(w: Write): void {
    // Only the newest state matters: a write still waiting is replaced, never run.
    this.pending = w;
    this.draining ??= this.drain();
  }

  private async drain(): Promise<void> {
    while (this.pending) {
      const w = this.pending;
      this.pending = null;
      try {
        if (w.kind === 'clear') {
          await clearSaved();
          this.emit({ kind: 'cleared' });
        } else {
          if (this.failWith === 'quota') throw new DOMException('The quota has been exceeded (simulated).', 'QuotaExceededError');
          await writeSaved(w.meta, w.weights);
          this.emit({ kind: 'saved', stateKey: w.meta.stateKey, bytes: w.meta.bytes, ms: performance.now() - w.t0, readMs: w.readMs });
        }
      } catch (e) {
        this.emit({ kind: 'failed', message: storageFailureMessage(e) });
        // An older model left in the store would come back on the next visit as if it were this
        // one: drop it (deleting frees space, so it works on a full quota too).
        if (w.kind === 'save') await clearSaved().catch(() => {});
      }
    }
    this.draining = null;
  }

  /** Resolves once every queued write has committed (or failed); the last outcome. */
  async flush(): Promise<ModelStoreEvent | null> {
    while (this.draining) await this.draining;
    return this.last;
  }

  /**
   * After the dense model is loaded: put back the saved model if it derives from this dense
   * model (or brings its own dense, for an opened model). Never throws: a record that does not
   * fit or cannot be read is ignored with a sentence saying why.
   */
  async restore(): Promise<RestoreOutcome> {
    const dense = this.session.denseModel;
    if (!dense) return { kind: 'none' };
    const t0 = performance.now();
    let meta: unknown;
    try {
      meta = await readMeta();
    } catch (e) {
      return { kind: 'ignored', message: storageFailureMessage(e).replace('could not be saved for a reload or a crash', 'from your last visit could not be read, and new ones cannot be kept') };
    }
    if (meta === undefined || meta === null) return { kind: 'none' };
    const match = matchSaved(meta, await this.identity(dense.model, dense.name, dense.source));
    if (!match.ok) {
      // A damaged record would be refused on every visit: drop it (a model from another dense model stays).
      if (match.damaged) await clearSaved().catch(() => {});
      return { kind: 'ignored', message: `A pruned model saved earlier was not restored: ${match.reason}. The lab starts from the dense model${match.damaged ? ' and removed the damaged record' : ''}.` };
    }
    const m = meta as SavedModelMeta;
    let model: ReidModel | null = null;
    let denseModel: ReidModel | null = null;
    try {
      const w = await readWeights(m.weightsKey);
      const cur = decodeWeights(w?.current, 'model');
      model = ReidModel.fromArrays(cur.spec, cur.arrays);
      if (match.bringsDense && !m.currentIsDense) {
        const d = decodeWeights(w?.dense, 'dense model');
        denseModel = ReidModel.fromArrays(d.spec, d.arrays);
      }
    } catch (e) {
      model?.dispose();
      await clearSaved().catch(() => {});
      return { kind: 'ignored', message: `The model saved on your last visit could not be restored: ${(e as Error).message} The lab starts from the dense model and removed the damaged record.` };
    }
    let state: ModelState;
    if (match.bringsDense) {
      this.session.clearDenseCost();
      state = this.session.setDense({ model: denseModel ?? model, name: m.lineage.base, source: 'user' });
      if (denseModel) state = this.session.restoreCurrent(model, m.lineage, m.stateKey);
    } else {
      state = this.session.restoreCurrent(model, m.lineage, m.stateKey);
    }
    // Already saved as it is: no write back.
    this.lastKey = state.key ?? null;
    return { kind: 'restored', state, what: whatIsSaved(m), description: describeLineage(m.lineage), bytes: m.bytes, ms: performance.now() - t0 };
  }
}
