/** Step 1: the model being pruned: what it is, its shape, its cost, its measured speed. */
import { formatMacs, formatParams } from '../../engine/cost/macs';
import { memo, useState, type DragEvent } from 'react';
import type { LatencyResult, Lineage, ModelSummary } from '../../workers/api';
import { ArchitectureStrip } from './ArchitectureStrip';
import { Panel } from './Panel';
import { InlineJob } from './InlineJob';
import type { JobView } from '../useLab';

interface Props {
  model: ModelSummary | null;
  lineage: Lineage | null;
  latency: LatencyResult | null;
  busy: boolean;
  /** The running model job (load, open, latency), shown in the panel. */
  job?: JobView;
  onMeasureLatency(): void;
  onOpen(files: File[]): void;
  onExport(format: 'tfjs' | 'safetensors'): void;
}

function lineageText(l: Lineage): string {
  const parts: string[] = [];
  if (l.prune) {
    parts.push(
      `pruned with ${l.prune.criterionName} (${(l.prune.removedFraction * 100).toFixed(0)}% of the ${l.prune.scope === 'inner' ? 'inner' : 'inner and trunk'} channels, ${l.prune.ranking}, ${l.prune.strategy})`,
    );
  }
  if (l.fineTuneSteps > 0) parts.push(`fine-tuned ${l.fineTuneSteps} steps${l.ptl ? ` (with a PTL side branch, ${l.ptl.steps} steps; evaluated with it)` : ''}`);
  const here = parts.length ? parts.join(', then ') : 'dense (unpruned)';
  // What the file says happened before the lab opened it comes first: it happened first.
  return l.history ? `${l.history}; in the lab: ${here}` : here;
}

export const ModelPanel = memo(function ModelPanel({ model, lineage, latency, busy, job, onMeasureLatency, onOpen, onExport }: Props) {
  const [over, setOver] = useState(false);
  const onDrop = (e: DragEvent) => {
    e.preventDefault();
    setOver(false);
    if (!busy) onOpen(Array.from(e.dataTransfer.files));
  };
  return (
    <Panel id="model" title="Model" step={1}>
      {!model ? (
        <p className="muted">Loading the model…</p>
      ) : (
        <>
          <div className="model-title">
            <strong data-testid="model-name">{model.name}</strong>
            {model.source === 'random' && (
              <span className="tag warn" data-testid="untrained" title="No trained weights for this model in the zoo: accuracy numbers will be meaningless.">
                random weights: the zoo model is not available
              </span>
            )}
            {model.source === 'zoo' && <span className="tag">trained (model zoo)</span>}
            {model.source === 'user' && <span className="tag">your model</span>}
            {lineage && (
              <span className="lineage muted" data-testid="lineage">
                {lineageText(lineage)}
              </span>
            )}
          </div>
          <dl className="facts">
            <div>
              <dt>Architecture</dt>
              <dd>
                ResNet-{model.depth}, width ×{model.widthMultiplier}
              </dd>
            </div>
            <div>
              <dt>Input</dt>
              <dd>
                {model.input.height}×{model.input.width}
              </dd>
            </div>
            <div>
              <dt>Embedding</dt>
              <dd>{model.embeddingDim}-d</dd>
            </div>
            <div>
              <dt>Conv layers</dt>
              <dd data-testid="layer-count">{model.layers.length}</dd>
            </div>
            <div>
              <dt>Parameters</dt>
              <dd data-testid="params">{formatParams(model.params)}</dd>
            </div>
            <div>
              <dt>Cost / image</dt>
              <dd data-testid="macs">{formatMacs(model.macs)}</dd>
            </div>
            <div>
              <dt>Latency (batch 1)</dt>
              <dd data-testid="latency">{latency ? `${latency.medianMs.toFixed(1)} ms` : '—'}</dd>
            </div>
          </dl>
          <ArchitectureStrip layers={model.layers} />
          <div className="actions">
            <button type="button" onClick={onMeasureLatency} disabled={busy} data-testid="measure-latency">
              Measure latency
            </button>
            {latency && (
              <span className="muted" data-testid="latency-spread">
                median of {latency.runs} runs on {latency.backend} (p10{'\u2013'}p90 {latency.p10Ms.toFixed(1)}{'\u2013'}{latency.p90Ms.toFixed(1)} ms), {latency.imagesPerSecond.toFixed(0)} images/s
                {latency.dense && latency.speedup !== undefined && <>; timed in turn with the dense model ({latency.dense.medianMs.toFixed(1)} ms): {latency.speedup.toFixed(2)}× its speed</>}
              </span>
            )}
            {latency?.busy && (
              <span className="warn small" data-testid="latency-busy">
                The machine is busy: the runs spread more than 20% around the median, so these numbers are rough.
              </span>
            )}
            <span className="spacer" />
            <button type="button" className="secondary" data-testid="export-tfjs" disabled={busy} onClick={() => onExport('tfjs')} title="model.json + weight shards (tfjs format, opens in the lab again)">
              Export model.json
            </button>
            <button type="button" className="secondary" data-testid="export-safetensors" disabled={busy} onClick={() => onExport('safetensors')} title="PyTorch state_dict names and layout">
              Export .safetensors
            </button>
          </div>
          <InlineJob job={job} testId="model-progress" />
          <div
            className={`dropzone small ${over ? 'over' : ''}`}
            data-testid="model-drop"
            onDragOver={(e) => {
              e.preventDefault();
              setOver(true);
            }}
            onDragLeave={() => setOver(false)}
            onDrop={onDrop}
          >
            Open your own model: drop a <code>model.json</code> with its <code>.bin</code> shards, a PyTorch <code>.safetensors</code> or an ONNX ResNet, or a pruning plan <code>.json</code> (applied to the dense model) here, or{' '}
            <label className="filebtn">
              choose files…
              <input
                type="file"
                multiple
                accept=".json,.bin,.safetensors,.onnx"
                data-testid="model-files"
                disabled={busy}
                onChange={(e) => {
                  if (e.target.files) onOpen(Array.from(e.target.files));
                  // Picking the same files again (e.g. after fixing them) must fire again.
                  e.target.value = '';
                }}
              />
            </label>
          </div>
        </>
      )}
    </Panel>
  );
});
