/**
 * A job's progress next to the button that started it: a bar, the step text and the time left,
 * so the user sees it where they clicked (the global bar at the top stays too).
 */
import { useEffect, useRef, useState } from 'react';
import type { JobView } from '../useLab';

/** Time left from the fraction done so far (null until there is enough to go on). */
function useEta(job: JobView | undefined): number | null {
  const start = useRef<{ id: string; t: number } | null>(null);
  const [now, setNow] = useState(() => performance.now());
  useEffect(() => {
    if (!job) return;
    const t = setInterval(() => setNow(performance.now()), 1000);
    return () => clearInterval(t);
  }, [job]);
  if (!job) {
    start.current = null;
    return null;
  }
  if (start.current?.id !== job.id) start.current = { id: job.id, t: performance.now() };
  const elapsed = (now - start.current.t) / 1000;
  if (job.fraction < 0.03 || elapsed < 1) return null;
  return Math.max(0, (elapsed * (1 - job.fraction)) / job.fraction);
}

export function formatEta(sec: number): string {
  return sec < 60 ? `about ${Math.ceil(sec)} s left` : `about ${Math.floor(sec / 60)} min ${Math.round(sec % 60)} s left`;
}

export function InlineJob({ job, testId }: { job: JobView | undefined; testId?: string }) {
  const eta = useEta(job);
  if (!job) return null;
  const pct = Math.round(job.fraction * 100);
  return (
    <div className="inline-job" data-testid={testId ?? 'inline-job'} role="status" aria-live="polite">
      <progress max={100} value={pct} aria-label={job.label} />
      <span className="inline-job-text">
        {job.message || job.label} · {pct}%{eta !== null ? ` · ${formatEta(eta)}` : ''}
      </span>
    </div>
  );
}
