/**
 * Long operations in the worker are jobs: the page names each one (jobId), receives throttled
 * progress through a comlink-proxied callback, and may cancel it. The worker is one thread, so
 * a cancel request is seen when the job next awaits; jobs call `throwIfCancelled()` at safe
 * points (between batches, between steps) so nothing is left half-applied.
 */
import * as Comlink from 'comlink';
import { CancelledError, LabError } from '../engine/errors';
import type { JobProgress, ProgressCallback } from './api';

/** At most ~4 progress events a second: enough for a smooth bar, cheap for the page. */
export const PROGRESS_INTERVAL_MS = 250;

export class Job {
  readonly controller = new AbortController();
  private lastSent = -Infinity;

  constructor(
    readonly id: string,
    readonly what: string,
    private readonly onProgress?: ProgressCallback,
    /** The throttle's clock (a test freezes it to see what the throttle drops). */
    private readonly now: () => number = () => performance.now(),
  ) {}

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  throwIfCancelled(): void {
    if (this.signal.aborted) throw new CancelledError(this.what);
  }

  /**
   * Report progress; dropped if the last event was less than PROGRESS_INTERVAL_MS ago, unless
   * final or forced. `extra` is built only for events that are sent; returns whether it was sent.
   */
  progress(fraction: number, message: string, extra?: () => Pick<JobProgress, 'train'>, force = false): boolean {
    if (!this.onProgress) return false;
    const now = this.now();
    const final = fraction >= 1;
    if (!final && !force && now - this.lastSent < PROGRESS_INTERVAL_MS) return false;
    this.lastSent = now;
    const event: JobProgress = { jobId: this.id, fraction: Math.min(1, Math.max(0, fraction)), message, ...(extra ? extra() : {}) };
    // Fire and forget: a page that went away must not stall the job.
    void Promise.resolve(this.onProgress(event)).catch(() => {});
    return true;
  }

  private pausedFlag = false;
  private resume: (() => void) | null = null;

  get paused(): boolean {
    return this.pausedFlag;
  }

  setPaused(paused: boolean): void {
    this.pausedFlag = paused;
    if (!paused && this.resume) {
      this.resume();
      this.resume = null;
    }
  }

  /** Wait here while paused; a cancel ends the wait (the caller then sees throwIfCancelled). */
  async waitWhilePaused(): Promise<void> {
    while (this.pausedFlag && !this.signal.aborted) {
      await new Promise<void>((resolve) => {
        this.resume = resolve;
        this.signal.addEventListener('abort', () => resolve(), { once: true });
      });
    }
  }
}

export class JobRegistry {
  private readonly running = new Map<string, Job>();

  /** Run `body` as job `id`; the id is free again when it settles. */
  async run<T>(id: string, what: string, onProgress: ProgressCallback | undefined, body: (job: Job) => Promise<T>): Promise<T> {
    if (typeof id !== 'string' || id.length === 0) throw new LabError('bad-argument', `${what} needs a job id (a non-empty string); got ${String(id)}.`);
    if (this.running.has(id)) throw new LabError('bad-argument', `A job with id "${id}" is already running; each job needs its own id.`);
    const job = new Job(id, what, onProgress);
    this.running.set(id, job);
    try {
      return await body(job);
    } finally {
      this.running.delete(id);
      // The page's callback arrives as a comlink proxy holding a MessagePort; free it.
      (onProgress as Partial<Comlink.ProxyMethods> | undefined)?.[Comlink.releaseProxy]?.();
    }
  }

  cancel(id: string): boolean {
    const job = this.running.get(id);
    if (!job) return false;
    job.controller.abort();
    return true;
  }

  setPaused(id: string, paused: boolean): boolean {
    const job = this.running.get(id);
    if (!job) return false;
    job.setPaused(paused);
    return true;
  }

  get ids(): string[] {
    return [...this.running.keys()];
  }
}

/** Let queued messages (cancel, getStatus) in between pieces of work. */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}
