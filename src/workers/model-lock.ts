/**
 * One model job at a time in the worker. Jobs interleave at every await, so a fine-tune started
 * while a prune runs would train a model the prune then disposes ("reading 'backend'" of a freed
 * tensor) and the prune's result would be lost. The page queues its jobs (useLab.ts); this lock
 * is the worker's own guarantee for any caller: a second model job is refused with a sentence,
 * and nothing already running is touched.
 */
import { LabError } from '../engine/errors';

export class ModelLock {
  private holder: string | null = null;

  /** What holds the lock ("Pruning"), or null. */
  get busyWith(): string | null {
    return this.holder;
  }

  /** Refuse with a sentence if a model job runs (for synchronous calls such as reset). */
  check(what: string): void {
    if (this.holder !== null) {
      throw new LabError('busy', `${this.holder} is still running, so ${what} cannot start now; wait for it to finish or cancel it, then try again.`);
    }
  }

  async run<T>(what: string, body: () => Promise<T>): Promise<T> {
    this.check(what.charAt(0).toLowerCase() + what.slice(1));
    this.holder = what;
    try {
      return await body();
    } finally {
      this.holder = null;
    }
  }
}
