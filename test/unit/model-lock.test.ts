/**
 * The worker's own guarantee (src/workers/model-lock.ts, issue 20 item 7): while one model job
 * runs, a second is refused with a LabError 'busy' sentence, and the running one is untouched.
 */
import { describe, expect, it } from 'vitest';
import { ModelLock } from '../../src/workers/model-lock';
import { isLabError } from '../../src/engine/errors';

/** A job body that finishes (or fails) when told to. */
function pending<T>() {
  let settle!: { resolve: (v: T) => void; reject: (e: unknown) => void };
  const done = new Promise<T>((resolve, reject) => (settle = { resolve, reject }));
  return { body: () => done, ...settle };
}

async function refusal(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected a refusal');
}

describe('ModelLock: one model job at a time in the worker', () => {
  it('refuses a second job while one runs, with a sentence naming both, and the first still finishes', async () => {
    const lock = new ModelLock();
    const prune = pending<string>();
    const pruning = lock.run('Pruning', prune.body);
    expect(lock.busyWith).toBe('Pruning');

    let fineTuneStarted = false;
    const e = await refusal(lock.run('Fine-tuning', async () => {
      fineTuneStarted = true;
      return 'tuned';
    }));
    expect(isLabError(e, 'busy'), String(e)).toBe(true);
    expect((e as Error).message).toBe('Pruning is still running, so fine-tuning cannot start now; wait for it to finish or cancel it, then try again.');
    expect(fineTuneStarted).toBe(false);
    expect(lock.busyWith).toBe('Pruning');

    prune.resolve('pruned');
    expect(await pruning).toBe('pruned');
    expect(lock.busyWith).toBeNull();
    expect(await lock.run('Fine-tuning', async () => 'tuned')).toBe('tuned');
  });

  it('check() refuses a synchronous call (reset) while a job runs and allows it after', async () => {
    const lock = new ModelLock();
    expect(() => lock.check('reset')).not.toThrow();
    const evaluate = pending<void>();
    const evaluating = lock.run('Evaluating', evaluate.body);
    let e: unknown;
    try {
      lock.check('reset');
    } catch (err) {
      e = err;
    }
    expect(isLabError(e, 'busy')).toBe(true);
    expect((e as Error).message).toMatch(/^Evaluating is still running, so reset cannot start now/);
    evaluate.resolve();
    await evaluating;
    expect(() => lock.check('reset')).not.toThrow();
  });

  it('a job that fails releases the lock, and its own error (not busy) reaches the caller', async () => {
    const lock = new ModelLock();
    const failing = pending<never>();
    const running = lock.run('Fine-tuning', failing.body);
    failing.reject(new Error('training diverged'));
    expect(((await refusal(running)) as Error).message).toBe('training diverged');
    expect(lock.busyWith).toBeNull();
    expect(await lock.run('Pruning', async () => 'pruned')).toBe('pruned');
  });

  it('a refused job does not release the lock the running one holds', async () => {
    const lock = new ModelLock();
    const load = pending<void>();
    const loading = lock.run('Loading the model', load.body);
    await refusal(lock.run('Pruning', async () => undefined));
    await refusal(lock.run('Evaluating', async () => undefined));
    // Had a refusal cleared the holder, this third job would have started beside the first.
    expect(isLabError(await refusal(lock.run('Fine-tuning', async () => undefined)), 'busy')).toBe(true);
    load.resolve();
    await loading;
  });
});
