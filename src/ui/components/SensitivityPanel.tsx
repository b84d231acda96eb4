/**
 * Per-layer sensitivity (Hao Li et al.'s Figure 2) as a heat map: each row is one dependency
 * group pruned ALONE (the rest of the dense model untouched) at each rate, each cell its mAP or
 * rank-1. A row that stays green tolerates pruning; one that turns red is where channels matter.
 * Uses the Prune panel's criterion and scope; the scan can be limited to a subset of queries,
 * because it is 1 + groups x rates evaluations.
 */
import { memo, useEffect, useMemo, useState } from 'react';
import type { CriterionInfo, SensitivityOutcome, SensitivityPlan, SensitivityRequest } from '../../workers/api';
import { parseRates, type LabConfig } from '../url';
import type { JobView } from '../useLab';
import { Panel } from './Panel';

interface Props {
  config: LabConfig;
  setConfig(p: Partial<LabConfig>): void;
  criteria: CriterionInfo[];
  /** A dataset is loaded (the scan evaluates on it). */
  hasDataset: boolean;
  busy: boolean;
  /** The running scan, if any (for its progress, ETA and cancel). */
  job: JobView | undefined;
  plan(req: SensitivityRequest): Promise<SensitivityPlan | null>;
  scan(req: SensitivityRequest): Promise<SensitivityOutcome | null>;
}

type Metric = 'mAP' | 'rank1';

/** Red (low) through yellow to green (high), for t in [0, 1]. */
export function heatColour(t: number): string {
  const x = Math.min(1, Math.max(0, Number.isFinite(t) ? t : 0));
  return `hsl(${Math.round(120 * x)}, 70%, ${Math.round(72 - 12 * Math.abs(x - 0.5))}%)`;
}

function Heatmap({ result, metric }: { result: SensitivityOutcome; metric: Metric }) {
  const values = result[metric];
  const base = result.baseline[metric];
  // The scale spans the worst cell to the best of cells and baseline, so contrast is never lost.
  const flat = values.flat();
  const lo = Math.min(...flat, base);
  const hi = Math.max(...flat, base);
  const t = (v: number) => (hi > lo ? (v - lo) / (hi - lo) : 1);
  const pct = (v: number) => (100 * v).toFixed(2);
  const name = metric === 'mAP' ? 'mAP' : 'rank-1';
  return (
    <div className="sens-heatmap" data-testid="sens-heatmap" data-groups={result.groups.length} data-rates={result.rates.length}>
      <div
        role="table"
        aria-label={`${name} with one group pruned alone, groups by rates`}
        style={{ display: 'grid', gridTemplateColumns: `max-content repeat(${result.rates.length}, minmax(3.5em, 7em))`, gap: 2, fontSize: '0.85em' }}
      >
        <div role="columnheader" className="muted">
          group (channels)
        </div>
        {result.rates.map((r) => (
          <div key={r} role="columnheader" style={{ textAlign: 'center' }} className="muted">
            {Math.round(r * 100)}% pruned
          </div>
        ))}
        {result.groups.map((g, i) => (
          <div key={g.id} role="row" style={{ display: 'contents' }}>
            <div role="rowheader" data-testid="sens-group" title={g.id} style={{ whiteSpace: 'nowrap', paddingRight: 6 }}>
              {g.label} <span className="muted">({g.channels})</span>
            </div>
            {result.rates.map((r, j) => {
              const v = values[i][j];
              const drop = base - v;
              return (
                <div
                  key={r}
                  role="cell"
                  data-testid="sens-cell"
                  data-value={pct(v)}
                  data-group={g.id}
                  data-rate={r}
                  title={`${g.label} pruned ${Math.round(r * 100)}% alone (${result.kept[i][j]} of ${g.channels} channels kept): ${name} ${pct(v)}%, ${drop >= 0 ? `${pct(drop)} points below` : `${pct(-drop)} points above`} the unpruned model (${pct(base)}%)`}
                  style={{ background: heatColour(t(v)), textAlign: 'center', padding: '2px 4px', fontVariantNumeric: 'tabular-nums' }}
                >
                  {(100 * v).toFixed(1)}
                </div>
              );
            })}
          </div>
        ))}
      </div>
      <div className="sens-legend small" data-testid="sens-legend" style={{ display: 'flex', alignItems: 'center', gap: 6, marginTop: 8 }}>
        <span>{pct(lo)}%</span>
        <span aria-hidden style={{ width: 160, height: 12, background: `linear-gradient(to right, ${[0, 0.25, 0.5, 0.75, 1].map(heatColour).join(', ')})` }} />
        <span>{pct(hi)}%</span>
        <span className="muted">
          {name}; unpruned model {pct(base)}%
        </span>
      </div>
    </div>
  );
}

export const SensitivityPanel = memo(function SensitivityPanel({ config, setConfig, criteria, hasDataset, busy, job, plan, scan }: Props) {
  const rates = useMemo(() => parseRates(config.sensRates), [config.sensRates]);
  const [ratesText, setRatesText] = useState(config.sensRates);
  const [planned, setPlanned] = useState<SensitivityPlan | null>(null);
  const [result, setResult] = useState<SensitivityOutcome | null>(null);
  const [metric, setMetric] = useState<Metric>('mAP');
  const criterion = criteria.find((c) => c.id === config.criterion);
  const req = useMemo<SensitivityRequest | null>(
    () => (rates ? { criterion: config.criterion, scope: config.scope, rates, maxQueries: config.sensQueries, maxIdentities: config.sensIds, seed: config.pruneSeed } : null),
    [rates, config.criterion, config.scope, config.sensQueries, config.sensIds, config.pruneSeed],
  );

  // The scan's size, before it runs (the worker counts the groups of this scope).
  useEffect(() => {
    let live = true;
    if (!req || !hasDataset) setPlanned(null);
    else void plan(req).then((p) => live && setPlanned(p));
    return () => {
      live = false;
    };
  }, [req, hasDataset, plan]);

  const start = () => {
    if (!req) return;
    void scan(req).then((r) => r && setResult(r));
  };

  return (
    <Panel id="sensitivity" title="Layer sensitivity">
      <p className="muted small">
        Prunes each dependency group alone, at each rate, keeping its best channels by {criterion?.name ?? config.criterion} ({config.scope === 'inner' ? 'inner channels' : 'inner and trunk channels'}, as set in the Prune panel), and evaluates the dense model with only that group pruned.
      </p>
      <fieldset className="controls" disabled={busy}>
        <div className="row">
          <label>
            Rates{' '}
            <input
              data-testid="sens-rates"
              value={ratesText}
              size={16}
              onChange={(e) => {
                setRatesText(e.target.value);
                if (parseRates(e.target.value)) setConfig({ sensRates: e.target.value.replace(/\s+/g, '') });
              }}
            />
          </label>
          <label title="Embedding the gallery dominates each evaluation: fewer test identities make the scan faster (their queries and gallery images, and the same share of distractors)">
            At most{' '}
            <input className="num" data-testid="sens-ids" type="number" min={0} value={config.sensIds} onChange={(e) => { const v = Math.max(0, Math.floor(Number(e.target.value) || 0)); setConfig({ sensIds: v === 1 ? 2 : v }); }} /> test identities (0: all),
          </label>
          <label>
            at most{' '}
            <input className="num" data-testid="sens-queries" type="number" min={0} value={config.sensQueries} onChange={(e) => setConfig({ sensQueries: Math.max(0, Math.floor(Number(e.target.value) || 0)) })} /> queries (0: all)
          </label>
          <button type="button" data-testid="sens-run" disabled={!req || !hasDataset} onClick={start}>
            Scan
          </button>
        </div>
        {!parseRates(ratesText) && <p className="small error">Rates are 1 to 10 different numbers above 0 and below 1, separated by commas (e.g. 0.25,0.5,0.75).</p>}
        <p className="muted small" data-testid="sens-plan" data-evaluations={planned?.evaluations ?? ''}>
          {planned
            ? `${planned.groups} groups × ${planned.rates} rates + the unpruned baseline = ${planned.evaluations} evaluations, each on ${planned.queries} queries against ${planned.gallery} gallery images.`
            : hasDataset
              ? ''
              : 'Load a dataset first: the scan evaluates on it.'}
        </p>
      </fieldset>
      {job && (
        <div className="job-row" data-testid="sens-progress">
          <progress max={100} value={Math.round(job.fraction * 100)} aria-label="Sensitivity scan progress" />
          <span className="muted small">{job.message}</span>
          <button type="button" className="secondary" data-testid="sens-cancel" onClick={job.cancel}>
            Cancel
          </button>
        </div>
      )}
      {result && (
        <div data-testid="sens-result">
          <div className="row small">
            <span className="muted">
              {result.model}, {result.criterionName}, {result.evaluations} evaluations on {result.queries} queries and {result.gallery} gallery images in {(result.ms / 1000).toFixed(1)} s.
            </span>
            <label>
              Show{' '}
              <select data-testid="sens-metric" value={metric} onChange={(e) => setMetric(e.target.value as Metric)}>
                <option value="mAP">mAP</option>
                <option value="rank1">rank-1</option>
              </select>
            </label>
          </div>
          <Heatmap result={result} metric={metric} />
        </div>
      )}
    </Panel>
  );
});
