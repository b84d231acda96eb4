/**
 * Step 3: prune the dense model. The criterion comes from the engine's registry (its
 * explanation and formula are shown as written next to its code); the target is a channel rate
 * or a share of the MACs to keep; scope, local/global ranking and strategy as in the paper.
 * After pruning: cost before -> after (MACs, parameters, measured latency).
 */
import { memo } from 'react';
import { formatMacs, formatParams } from '../../engine/cost/macs';
import type { CriterionInfo, PruneOutcome } from '../../workers/api';
import type { LabConfig } from '../url';
import type { JobView } from '../useLab';
import { InlineJob } from './InlineJob';
import { Panel } from './Panel';

interface Props {
  config: LabConfig;
  setConfig(p: Partial<LabConfig>): void;
  criteria: CriterionInfo[];
  result: PruneOutcome | null;
  pruned: boolean;
  busy: boolean;
  /** This panel's running job (prune, BN recalibration, or the quick score after them), shown next to its buttons. */
  job?: JobView;
  /** BatchNorm statistics of the current model were re-estimated on this many images (0: not since the last prune). */
  bnRecalibrated?: number;
  onPrune(): void;
  onReset(): void;
  onRecalibrate?(): void;
}

const NEEDS: Record<CriterionInfo['needs'], string> = {
  nothing: 'needs nothing',
  weights: 'weights only',
  data: 'runs images',
  'data+gradients': 'runs images and gradients',
};

const ms = (v: number | null) => (v === null ? '—' : `${v.toFixed(1)} ms`);
const change = (a: number, b: number) => (a > 0 ? `${b <= a ? '−' : '+'}${Math.abs((1 - b / a) * 100).toFixed(0)}%` : '');

export const PrunePanel = memo(function PrunePanel({ config, setConfig, criteria, result, pruned, busy, job, bnRecalibrated, onPrune, onReset, onRecalibrate }: Props) {
  const c = criteria.find((x) => x.id === config.criterion);
  return (
    <Panel id="prune" title="Prune" step={3}>
      <fieldset className="controls" disabled={busy}>
        <label className="wide">
          Criterion{' '}
          <select data-testid="criterion" value={config.criterion} onChange={(e) => setConfig({ criterion: e.target.value })}>
            {/* The names come from the worker's registry; until it answers, say so rather than show a raw id. */}
            {criteria.length === 0 && <option value={config.criterion}>Loading criteria{'\u2026'}</option>}
            {criteria.map((x) => (
              <option key={x.id} value={x.id}>
                {x.name}
              </option>
            ))}
          </select>
        </label>
        {c && (
          <div className="criterion" data-testid="criterion-info">
            <p className="explain">
              {c.explanation} <span className="tag">{c.usesDataWhenGiven ? 'runs images when a dataset is loaded, else weights' : NEEDS[c.needs]}</span>
            </p>
            <code className="formula" data-testid="criterion-formula">
              {c.formula}
            </code>
          </div>
        )}
        <div className="row">
          <label>
            <input type="radio" name="target" checked={config.targetKind === 'rate'} onChange={() => setConfig({ targetKind: 'rate' })} /> Channel rate
          </label>
          <label>
            <input type="radio" name="target" checked={config.targetKind === 'macs'} onChange={() => setConfig({ targetKind: 'macs' })} /> MACs target
          </label>
        </div>
        {config.targetKind === 'rate' ? (
          <label className="wide">
            Remove <strong data-testid="rate-value">{Math.round(config.rate * 100)}%</strong> of the channels in scope
            <input data-testid="rate" type="range" min={0} max={0.9} step={0.05} value={config.rate} onChange={(e) => setConfig({ rate: Number(e.target.value) })} />
          </label>
        ) : (
          <label className="wide">
            Keep <strong>{Math.round(config.macsKeep * 100)}%</strong> of the MACs
            <input data-testid="macs-target" type="range" min={0.1} max={1} step={0.05} value={config.macsKeep} onChange={(e) => setConfig({ macsKeep: Number(e.target.value) })} />
          </label>
        )}
        <label>
          Scope{' '}
          <select data-testid="scope" value={config.scope} onChange={(e) => setConfig({ scope: e.target.value as LabConfig['scope'] })}>
            <option value="inner">inner channels</option>
            <option value="inner+trunk">inner + residual trunk</option>
          </select>
        </label>
        <label>
          Ranking{' '}
          <select data-testid="ranking" value={config.ranking} onChange={(e) => setConfig({ ranking: e.target.value as LabConfig['ranking'] })}>
            <option value="local">local (same rate per layer)</option>
            <option value="global">global (one ranking{c ? `, ${c.globalNormalisation}` : ''})</option>
          </select>
        </label>
        <label>
          Strategy{' '}
          <select data-testid="strategy" value={config.strategy} onChange={(e) => setConfig({ strategy: e.target.value as LabConfig['strategy'] })}>
            <option value="once">once</option>
            <option value="iterative">iterative (prune, fine-tune, repeat ×3)</option>
            <option value="soft">soft (zero, regrow, harden; 3 epochs)</option>
          </select>
        </label>
        <label className="toggle" title="Re-estimate every BatchNorm's running statistics on a few hundred training images right after pruning (forward only, seconds): prune and recover in one click">
          <input type="checkbox" data-testid="prune-bn" checked={config.pruneBn} onChange={(e) => setConfig({ pruneBn: e.target.checked })} /> Recalibrate BatchNorm after pruning
        </label>
        <div className="actions">
          <button type="button" data-testid="prune" onClick={onPrune}>
            Prune
          </button>
          {onRecalibrate && (
            <button
              type="button"
              className="secondary"
              data-testid="recalibrate-bn"
              onClick={onRecalibrate}
              title="Re-estimate every BatchNorm's running mean and variance on a few hundred training images of the target domain: forward passes only, no gradients, seconds"
            >
              Recalibrate BN
            </button>
          )}
          <button type="button" className="secondary" data-testid="reset" onClick={onReset} disabled={!pruned}>
            Reset to dense
          </button>
        </div>
        <InlineJob job={job} testId="prune-progress" />
        {Boolean(bnRecalibrated) && (
          <p className="muted small" data-testid="bn-recalibrated">
            BatchNorm statistics re-estimated on {bnRecalibrated} training images.
          </p>
        )}
      </fieldset>
      {result && (
        <div className="prune-result" data-testid="prune-result">
          <table className="mini">
            <thead>
              <tr>
                <th />
                <th>before</th>
                <th />
                <th>after</th>
                <th />
              </tr>
            </thead>
            <tbody>
              <tr>
                <th>MACs</th>
                <td>{formatMacs(result.before.macs)}</td>
                <td>→</td>
                <td data-testid="after-macs">{formatMacs(result.after.macs)}</td>
                <td className="muted">{change(result.before.macs, result.after.macs)}</td>
              </tr>
              <tr>
                <th>Params</th>
                <td>{formatParams(result.before.params)}</td>
                <td>→</td>
                <td data-testid="after-params">{formatParams(result.after.params)}</td>
                <td className="muted">{change(result.before.params, result.after.params)}</td>
              </tr>
              <tr>
                <th>Latency</th>
                <td>{ms(result.before.latencyMs)}</td>
                <td>→</td>
                <td data-testid="after-latency">{ms(result.after.latencyMs)}</td>
                <td className="muted">
                  {result.state.latency?.speedup !== undefined
                    ? `${result.state.latency.speedup.toFixed(2)}× the dense speed`
                    : result.before.latencyMs && result.after.latencyMs
                      ? change(result.before.latencyMs, result.after.latencyMs)
                      : ''}
                </td>
              </tr>
            </tbody>
          </table>
          {result.state.lineage.prune && (
            <p className="muted">
              {result.state.lineage.prune.criterionName}, {result.state.lineage.prune.strategy}: removed {(result.state.lineage.prune.removedFraction * 100).toFixed(1)}% of the
              channels in scope. Latency: batch 1, median of {result.state.latency?.runs ?? 9} runs of each model, timed in turn in one call (the speed-up is the median of the per-pair ratios).
            </p>
          )}
          {result.state.latency?.busy && (
            <p className="warn small" data-testid="prune-latency-busy">
              The machine is busy: the latency runs spread more than 20% around their median, so the latency numbers are rough.
            </p>
          )}
        </div>
      )}
    </Panel>
  );
});
