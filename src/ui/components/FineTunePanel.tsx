/**
 * Step 4: recover accuracy on the small labelled subset of the target's training split, with
 * a live loss curve, ETA, pause and cancel (a cancel keeps the finished steps).
 * The PTL switch adds a side branch of BConv-Cells trained with the backbone; the branch stays
 * in the model at inference, so the panel shows its MACs and params next to the backbone's.
 */
import { memo, useDeferredValue, useEffect, useState } from 'react';
import { CartesianGrid, Line, LineChart, Tooltip, XAxis, YAxis } from 'recharts';
import { useWidth } from './useWidth';
import { formatMacs, formatParams } from '../../engine/cost/macs';
import type { FineTuneSplitSummary, PtlCostPreview, PtlInfo, PtlOptions } from '../../workers/api';
import type { LabConfig } from '../url';
import type { JobView, TrainingView } from '../useLab';
import { Panel } from './Panel';
import { InlineJob } from './InlineJob';

interface Props {
  config: LabConfig;
  setConfig(p: Partial<LabConfig>): void;
  ftSplit: FineTuneSplitSummary | null;
  training: TrainingView | null;
  job: JobView | undefined;
  /** A job this panel started after training (the quick score), shown next to its button. */
  after?: JobView;
  busy: boolean;
  /** The current model's PTL side branch (its lineage), if it has one. */
  ptl?: PtlInfo | null;
  /** The current model's state (its cost changes with pruning), for the PTL cost preview. */
  modelStateId?: number | null;
  ptlPreview?(opts: PtlOptions): Promise<PtlCostPreview | null>;
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

/**
 * While training runs, the curve is a plain SVG path (a few microseconds per update): the
 * worker saturates the CPU cores then, and a full chart render each step would stall the page.
 * The full recharts chart (axes, tooltip) is one click away when the run has ended.
 */
const LiveLoss = memo(function LiveLoss({ points, totalSteps }: { points: { step: number; loss: number }[]; totalSteps: number }) {
  const W = 360;
  const H = 140;
  const pad = { l: 44, r: 8, t: 8, b: 20 };
  const losses = points.map((p) => p.loss).filter(Number.isFinite);
  const lo = losses.length ? Math.min(...losses) : 0;
  const hi = losses.length ? Math.max(...losses) : 1;
  const span = hi - lo || 1;
  const x = (s: number) => pad.l + ((s - 1) / Math.max(1, totalSteps - 1)) * (W - pad.l - pad.r);
  const y = (v: number) => pad.t + (1 - (v - lo) / span) * (H - pad.t - pad.b);
  const d = points
    .filter((p) => Number.isFinite(p.loss))
    .map((p, i) => `${i === 0 ? 'M' : 'L'}${x(p.step).toFixed(1)},${y(p.loss).toFixed(1)}`)
    .join('');
  return (
    <svg className="live-loss" data-testid="loss-chart" data-points={points.length} viewBox={`0 0 ${W} ${H}`} role="img" aria-label="Training loss per step">
      <line x1={pad.l} y1={H - pad.b} x2={W - pad.r} y2={H - pad.b} stroke="#dde2e8" />
      <line x1={pad.l} y1={pad.t} x2={pad.l} y2={H - pad.b} stroke="#dde2e8" />
      <text x={pad.l - 4} y={pad.t + 10} textAnchor="end" fontSize="11" fill="#5d6875">
        {hi.toFixed(2)}
      </text>
      <text x={pad.l - 4} y={H - pad.b} textAnchor="end" fontSize="11" fill="#5d6875">
        {lo.toFixed(2)}
      </text>
      <text x={W - pad.r} y={H - 4} textAnchor="end" fontSize="11" fill="#5d6875">
        step {totalSteps}
      </text>
      <text x={pad.l} y={H - 4} fontSize="11" fill="#5d6875">
        loss, step 1
      </text>
      <path d={d} fill="none" stroke="#2f6fb0" strokeWidth={2} />
    </svg>
  );
});

const LossChart = memo(function LossChart({ points }: { points: { step: number; loss: number }[] }) {
  const [ref, width] = useWidth<HTMLDivElement>(360);
  // Fixed size and interval={0} ticks: recharts then neither measures the container nor the tick labels.
  return (
    <div className="loss-chart" data-testid="loss-chart" data-points={points.length} ref={ref}>
      <LineChart width={width} height={160} data={points} margin={{ top: 8, right: 12, bottom: 4, left: 0 }}>
        <CartesianGrid stroke="#eef1f4" />
        <XAxis dataKey="step" type="number" domain={[1, 'dataMax']} allowDecimals={false} interval={0} tickCount={6} tick={{ fontSize: 12 }} />
        <YAxis width={44} tick={{ fontSize: 12 }} domain={['auto', 'auto']} interval={0} tickCount={5} tickFormatter={(v: number) => v.toFixed(2)} />
        <Tooltip isAnimationActive={false} formatter={(v) => (typeof v === 'number' ? v.toFixed(4) : String(v))} labelFormatter={(l) => `step ${l}`} />
        <Line type="linear" dataKey="loss" stroke="#2f6fb0" dot={false} isAnimationActive={false} strokeWidth={2} />
      </LineChart>
    </div>
  );
});

const pct = (part: number, whole: number) => `${((100 * part) / whole).toFixed(1)}%`;

/** What PTL costs at inference: the branch apart from the backbone, and the sum a run counts. */
function PtlCost({ ptl }: { ptl: PtlInfo }) {
  return (
    <div className="ptl-cost small" data-testid="ptl-cost" data-branch-macs={ptl.branchMacs} data-branch-params={ptl.branchParams}>
      <table>
        <thead>
          <tr>
            <th />
            <th>MACs</th>
            <th>Params</th>
          </tr>
        </thead>
        <tbody>
          <tr>
            <td>Backbone</td>
            <td>{formatMacs(ptl.backboneMacs)}</td>
            <td>{formatParams(ptl.backboneParams)}</td>
          </tr>
          <tr data-testid="ptl-branch-row">
            <td>PTL side branch</td>
            <td>
              +{formatMacs(ptl.branchMacs)} ({pct(ptl.branchMacs, ptl.backboneMacs)})
            </td>
            <td>
              +{formatParams(ptl.branchParams)} ({pct(ptl.branchParams, ptl.backboneParams)})
            </td>
          </tr>
          <tr>
            <td>At inference</td>
            <td>{formatMacs(ptl.backboneMacs + ptl.branchMacs)}</td>
            <td>{formatParams(ptl.backboneParams + ptl.branchParams)}</td>
          </tr>
        </tbody>
      </table>
      <p className="muted">
        The current model is the fine-tuned backbone with its side branch ({ptl.steps} PTL steps, cells {ptl.cellRatio}× the stage channels, joined at {ptl.fuseInto === 'last' ? 'the last stage' : 'every stage'}). The lab evaluates and times it with the branch, so this run&apos;s cost counts both; the architecture strip shows the backbone. Exported files hold the backbone only.
      </p>
    </div>
  );
}

export const FineTunePanel = memo(function FineTunePanel({ config, setConfig, ftSplit, training, job, after, busy, ptl, modelStateId, ptlPreview, onApplySplit, onStart, onPause }: Props) {
  const running = Boolean(training?.running);
  // What the branch would cost on the current model, shown before training it.
  const [preview, setPreview] = useState<PtlCostPreview | null>(null);
  useEffect(() => {
    let live = true;
    if (!config.ptl || !ptlPreview || modelStateId === null || modelStateId === undefined) setPreview(null);
    else void ptlPreview({ ...(config.ptlRatio !== undefined ? { cellRatio: config.ptlRatio } : {}), ...(config.ptlFuse ? { fuseInto: config.ptlFuse } : {}) }).then((p) => live && setPreview(p));
    return () => {
      live = false;
    };
  }, [config.ptl, config.ptlRatio, config.ptlFuse, modelStateId, ptlPreview]);
  const points = useDeferredValue(training?.points ?? NO_POINTS);
  const [detail, setDetail] = useState(false);
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
        <label className="toggle" title="Re-estimate BatchNorm statistics on a few hundred training images (forward only) before the first step">
          <input type="checkbox" data-testid="ft-bn-recal" checked={config.bnRecal} onChange={(e) => setConfig({ bnRecal: e.target.checked })} /> Recalibrate BatchNorm first
        </label>
        <div className="row">
          <label className="toggle" title="Progressive Transfer Learning: a side branch of BConv-Cells carries dataset-level information across mini-batches during fine-tuning">
            <input type="checkbox" data-testid="ptl" checked={config.ptl} onChange={(e) => setConfig({ ptl: e.target.checked })} /> PTL side branch
          </label>
          {!config.ptl && (
            <label title="Freeze the stem and the first stages (BatchNorm there on its running statistics): faster steps, usually less recovered accuracy">
              Train{' '}
              <select data-testid="train-from" value={String(config.trainFrom)} onChange={(e) => setConfig({ trainFrom: Number(e.target.value) })}>
                <option value="0">the whole network</option>
                {[1, 2, 3, 4].map((s) => (
                  <option key={s} value={String(s)}>
                    layer{s} onwards
                  </option>
                ))}
              </select>
            </label>
          )}
          {config.ptl && (
            <>
              <label>
                Cells{' '}
                <select data-testid="ptl-ratio" value={config.ptlRatio === undefined ? '' : String(config.ptlRatio)} onChange={(e) => setConfig({ ptlRatio: e.target.value === '' ? undefined : Number(e.target.value) })}>
                  <option value="">engine default</option>
                  {[0.125, 0.25, 0.5, 1].map((v) => (
                    <option key={v} value={String(v)}>
                      {v}× the stage channels
                    </option>
                  ))}
                  {config.ptlRatio !== undefined && ![0.125, 0.25, 0.5, 1].includes(config.ptlRatio) && <option value={String(config.ptlRatio)}>{config.ptlRatio}×</option>}
                </select>
              </label>
              <label>
                Join{' '}
                <select data-testid="ptl-fuse" value={config.ptlFuse ?? ''} onChange={(e) => setConfig({ ptlFuse: e.target.value === '' ? undefined : (e.target.value as 'last' | 'every') })}>
                  <option value="">engine default</option>
                  <option value="last">last stage</option>
                  <option value="every">every stage</option>
                </select>
              </label>
            </>
          )}
        </div>
        {config.ptl && (
          <p className="muted small">
            PTL trains a side branch of BConv-Cells with the backbone; the branch stays in the model at inference
            {preview ? (
              <span data-testid="ptl-preview" data-branch-macs={preview.branchMacs}>
                {' '}
                and adds {formatMacs(preview.branchMacs)} ({pct(preview.branchMacs, preview.backboneMacs)} of the backbone&apos;s {formatMacs(preview.backboneMacs)}) and {formatParams(preview.branchParams)} parameters ({pct(preview.branchParams, preview.backboneParams)})
              </span>
            ) : (
              ' and adds its own MACs and parameters'
            )}
            . Fine-tuning a PTL model again with PTL on continues its branch; with PTL off the branch is dropped.
          </p>
        )}
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
      <InlineJob job={after ?? (job && !training?.running ? job : undefined)} testId="finetune-progress" />
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
          {!running && ptl && <PtlCost ptl={ptl} />}
          {running || !detail ? <LiveLoss points={points} totalSteps={training.totalSteps} /> : <LossChart points={points} />}
          {!running && points.length > 0 && (
            <label className="toggle small">
              <input type="checkbox" checked={detail} onChange={(e) => setDetail(e.target.checked)} /> Detailed chart (axes, values on hover)
            </label>
          )}
        </div>
      )}
    </Panel>
  );
});
