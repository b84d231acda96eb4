import { useEffect, useState } from 'react';

/** How long "Clear all N runs?" waits for its second click before it goes back. */
const CLEAR_CONFIRM_MS = 6000;

/**
 * Clearing deletes every stored run and cannot be undone, so it takes two clicks: the first
 * asks "Clear all N runs?" beside a "Keep them" button, and goes back by itself after a few
 * seconds. One stray click (a presenter's, a student's) loses nothing.
 */
export function ClearRuns({ count, onClear }: { count: number; onClear(): void }) {
  const [asking, setAsking] = useState(false);
  useEffect(() => {
    if (!asking) return;
    const t = setTimeout(() => setAsking(false), CLEAR_CONFIRM_MS);
    return () => clearTimeout(t);
  }, [asking]);
  if (!asking || count === 0)
    return (
      <button type="button" className="secondary" data-testid="clear-runs" onClick={() => setAsking(true)} disabled={count === 0}>
        Clear runs
      </button>
    );
  return (
    <span className="confirm" role="group" aria-label="Confirm clearing the runs">
      <button
        type="button"
        className="danger"
        data-testid="clear-runs-confirm"
        onClick={() => {
          setAsking(false);
          onClear();
        }}
      >
        Clear all {count} run{count === 1 ? '' : 's'}?
      </button>
      <button type="button" className="secondary" data-testid="clear-runs-keep" onClick={() => setAsking(false)}>
        Keep them
      </button>
    </span>
  );
}
