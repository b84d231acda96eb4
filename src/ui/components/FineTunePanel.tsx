/**
 * Step 4: recover accuracy on the small labelled subset of the target's training split, with
 * a live loss curve, ETA, pause and cancel (a cancel keeps the finished steps).
 */
import { memo, useDeferredValue } from 'react';
import { CartesianGrid, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import type { FineTuneSplitSummary } from '../../workers/api';
import type { LabConfig } from '../url';
import type { JobView, TrainingView } from '../useLab';
import { Panel } from './Panel';

interface Props {
  config: LabConfig;
  setConfig(p: Partial<LabConfig>): void;
  ftSplit: FineTuneSplitSummary | null;
  training: TrainingView | null;
  job: JobView | undefined;
  busy: boolean;
  onApplySplit(): void;
  onStart(): void;
  onPause(paused: boolean): void;
}

const NO_POINTS: { step: number; loss: number }[] = [];

function eta(sec: number): string {
  if (!Number.isFinite(sec)) return 'estimating…';
  if (sec < 60) return `${Math.ceil(sec)} s left`;
  return `${Math.floor(sec / 60)} min ${Math.ceil(sec % 60)} s left`;
}

const LossChart = memo(function LossChart({ points }: { points: { step: number; loss: number }[] }) {
  return (
    <div className="loss-chart" data-testid="loss-chart" data-points={points.length}>
      <ResponsiveContainer width="100%" height={160}>
        <LineChart data={points} margin={{ top: 8, right: 12, bottom: 4, left: 0 }}>
          <CartesianGrid stroke="#eef1f4" />
          <XAxis dataKey="step" type="number" domain={[1, 'dataMax']} allowDecimals={false} tick={{ fontSize: 12 }} />
          <YAxis width={44} tick={{ fontSize: 12 }} domain={['auto', 'auto']} tickFormatter={(v: number) => v.toFixed(2)} />
          <Tooltip formatter={(v) => (typeof v === 'number' ? v.toFixed(4) : String(v))} labelFormatter={(l) => `step ${l}`} />
          <Line type="monotone" dataKey="loss" stroke="#2f6fb0" dot={false} isAnimationActive={false} strokeWidth={2} />
        </LineChart>
      </ResponsiveContainer>
    </div>
  );
});

export const FineTunePanel = memo(function FineTunePanel({ config, setConfig, ftSplit, training, job, busy, onApplySplit, onStart, onPause }: Props) {
  const running = Boolean(training?.running);
  const points = useDeferredValue(training?.points ?? NO_POINTS);
  return (
    <Panel id="finetune" title="Fine-tune" step={4}>
      <fieldset className="controls" disabled={busy}>
        <label>
          Steps <input className="num" data-testid="steps" type="number" min={1} max={100000} value={config.steps} onChange={(e) => setConfig({ steps: Math.max(1, Math.floor(Number(e.target.value) || 1)) })} />
        </label>
        <label>
          Learning rate{' '}
          <select data-testid="lr" value={String(config.lr)} onChange={(e) => setConfig({ lr: Number(e.target.value) })}>
            {[1e-5, 3e-5, 1e-4, 3e-4, 1e-3].map((v) => (
              <option key={v} value={String(v)}>
                {v.toExponential(0)}
              </option>
            ))}
            {![1e-5, 3e-5, 1e-4, 3e-4, 1e-3].includes(config.lr) && <option value={String(config.lr)}>{config.lr}</option>}
          </select>
        </label>
        <div className="row">
          <label>
            Identities <input className="num" data-testid="ft-ids" type="number" min={2} value={config.ftIds} onChange={(e) => setConfig({ ftIds: Math.max(2, Math.floor(Number(e.target.value) || 2)) })} />
          </label>
          <label>
            × images <input className="num" data-testid="ft-per" type="number" min={2} value={config.ftPerId} onChange={(e) => setConfig({ ftPerId: Math.max(2, Math.floor(Number(e.target.value) || 2)) })} />
          </label>
          <button type="button" className="secondary" onClick={onApplySplit}>
            Use this subset
          </button>
        </div>
        <p className="muted small">
          {ftSplit
            ? `Training on ${ftSplit.images} images of ${ftSplit.identities} training identities (never query/gallery identities), triplet loss, P×K batches.`
            : 'Load a dataset first: the subset comes from its training split.'}
        </p>
        <div className="actions">
          <button type="button" data-testid="finetune" onClick={onStart}>
            Fine-tune
          </button>
        </div>
      </fieldset>
      {training && (
        <div className="training" data-testid="training" data-step={training.step}>
          <div className="job-row">
            <progress max={training.totalSteps} value={training.step} aria-label="Fine-tuning progress" />
            <span className="muted">
              step {training.step}/{training.totalSteps}
              {running ? ` · ${training.paused ? 'paused' : eta(training.etaSec)}` : ' · done'}
            </span>
          </div>
          {running && (
            <div className="actions">
              <button type="button" className="secondary" data-testid="pause" onClick={() => onPause(!training.paused)}>
                {training.paused ? 'Resume' : 'Pause'}
              </button>
              <button type="button" className="secondary" data-testid="cancel-finetune" onClick={() => job?.cancel()}>
                Cancel
              </button>
            </div>
          )}
          <LossChart points={points} />
        </div>
      )}
    </Panel>
  );
});
