/** Progress of one worker job, with a way to stop it. */
import type { JobView } from '../useLab';

export function JobBar({ job }: { job: JobView }) {
  const pct = Math.round(job.fraction * 100);
  return (
    <div className="job" data-testid="job">
      <div className="job-label">
        <span>{job.label}</span>
        <span className="job-message">{job.message}</span>
      </div>
      <div className="job-row">
        <progress max={100} value={pct} aria-label={job.label} />
        <button type="button" onClick={job.cancel}>
          Cancel
        </button>
      </div>
    </div>
  );
}
