import { describe, expect, it } from 'vitest';
import { ActionQueue, type QueueState } from '../../src/ui/action-queue';

const tick = () => new Promise((r) => setTimeout(r, 0));

/** An action that records when it starts and ends, and finishes when told to. */
function action(log: string[], name: string) {
  let finish: () => void = () => {};
  const done = new Promise<void>((r) => (finish = r));
  return {
    body: async () => {
      log.push(`${name} start`);
      await done;
      log.push(`${name} end`);
      return name;
    },
    finish: () => finish(),
  };
}

describe('the page action queue', () => {
  it('runs actions started in the same task one after another, in order, none dropped', async () => {
    const log: string[] = [];
    const states: QueueState[] = [];
    const q = new ActionQueue((s) => states.push(s));
    const [p, f, e] = ['prune', 'fine-tune', 'evaluate'].map((n) => action(log, n));
    const results = [q.enqueue('Pruning', p.body), q.enqueue('Fine-tuning', f.body), q.enqueue('Evaluating', e.body)];
    await tick();
    expect(log).toEqual(['prune start']);
    expect(q.state).toEqual({ active: 'Pruning', waiting: [expect.objectContaining({ label: 'Fine-tuning' }), expect.objectContaining({ label: 'Evaluating' })] });
    p.finish();
    await tick();
    expect(log).toEqual(['prune start', 'prune end', 'fine-tune start']);
    f.finish();
    e.finish();
    expect(await Promise.all(results)).toEqual(['prune', 'fine-tune', 'evaluate']);
    expect(log).toEqual(['prune start', 'prune end', 'fine-tune start', 'fine-tune end', 'evaluate start', 'evaluate end']);
    expect(q.state).toEqual({ active: null, waiting: [] });
    expect(states.length).toBeGreaterThan(3);
  });

  it('a failing action does not stop the ones after it; a waiting one can be cancelled', async () => {
    const q = new ActionQueue(() => {});
    const failed = q.enqueue('A', async () => {
      throw new Error('boom');
    });
    const b = q.enqueue('B', async () => 'b');
    const c = q.enqueue('C', async () => 'c');
    expect(q.cancel(q.state.waiting.find((w) => w.label === 'B')!.id)).toBe(true);
    await expect(failed).rejects.toThrow('boom');
    expect(await b).toBeNull();
    expect(await c).toBe('c');
  });

  it('reset (a new worker) drops what waited for the old one and starts free at once', async () => {
    const log: string[] = [];
    const q = new ActionQueue(() => {});
    const stuck = action(log, 'old');
    void q.enqueue('Old', stuck.body);
    const waiting = q.enqueue('Waiting', async () => 'ran');
    await tick();
    q.reset();
    expect(await q.enqueue('New', async () => 'new')).toBe('new');
    stuck.finish();
    expect(await waiting).toBeNull();
  });
});
