/**
 * The page's user actions (prune, fine-tune, evaluate, open a model, ...) run one after another.
 * Three clicks in the same task (or the keys p f e) arrive before React re-renders the buttons as
 * disabled, so "disable while busy" alone lets them overlap in the worker and lose the prune.
 * Here they queue instead: each waits for the actions before it, can be cancelled while it waits,
 * and a new worker (backend switch, crash) drops what was queued for the old one.
 */

export interface QueueState {
  /** Label of the action running now, or null. */
  active: string | null;
  /** Actions waiting their turn, oldest first. */
  waiting: { id: string; label: string }[];
}

interface Entry {
  id: string;
  label: string;
  cancelled: boolean;
}

let counter = 0;

export class ActionQueue {
  private tail: Promise<void> = Promise.resolve();
  private generation = 0;
  private active: string | null = null;
  private waiting: Entry[] = [];

  constructor(private readonly onChange: (s: QueueState) => void) {}

  get state(): QueueState {
    return { active: this.active, waiting: this.waiting.map(({ id, label }) => ({ id, label })) };
  }

  private emit(): void {
    this.onChange(this.state);
  }

  /** Run `body` once every action queued before it has settled; null if it was cancelled while waiting or the queue was reset. */
  enqueue<T>(label: string, body: () => Promise<T>): Promise<T | null> {
    const gen = this.generation;
    const entry: Entry = { id: `queued-${++counter}`, label, cancelled: false };
    this.waiting.push(entry);
    this.emit();
    const result = this.tail.then(async () => {
      if (gen !== this.generation) return null;
      this.waiting = this.waiting.filter((e) => e !== entry);
      if (entry.cancelled) {
        this.emit();
        return null;
      }
      this.active = label;
      this.emit();
      try {
        return await body();
      } finally {
        if (gen === this.generation) {
          this.active = null;
          this.emit();
        }
      }
    });
    this.tail = result.then(
      () => {},
      () => {},
    );
    return result;
  }

  /** Drop a waiting action; false if it already started (cancel the job itself then). */
  cancel(id: string): boolean {
    const e = this.waiting.find((x) => x.id === id);
    if (!e) return false;
    e.cancelled = true;
    this.waiting = this.waiting.filter((x) => x !== e);
    this.emit();
    return true;
  }

  /** A new worker: forget what ran and waited for the old one (its calls end with the worker). */
  reset(): void {
    this.generation++;
    this.tail = Promise.resolve();
    this.active = null;
    this.waiting = [];
    this.emit();
  }
}
