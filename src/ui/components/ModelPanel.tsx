/** Step 1: the model being pruned: what it is, its shape, its cost, its measured speed. */
import { formatMacs, formatParams } from '../../engine/cost/macs';
import type { LatencyResult, ModelSummary } from '../../workers/api';
import { ArchitectureStrip } from './ArchitectureStrip';
import { Panel } from './Panel';

interface Props {
  model: ModelSummary | null;
  latency: LatencyResult | null;
  busy: boolean;
  onMeasureLatency(): void;
}

export function ModelPanel({ model, latency, busy, onMeasureLatency }: Props) {
  return (
    <Panel id="model" title="Model" step={1}>
      {!model ? (
        <p className="muted">Loading the model…</p>
      ) : (
        <>
          <div className="model-title">
            <strong data-testid="model-name">{model.name}</strong>
            {model.source === 'random' && (
              <span className="tag warn" title="No trained weights for this model in the zoo: accuracy numbers will be meaningless.">
                random weights
              </span>
            )}
            {model.source === 'zoo' && <span className="tag">trained</span>}
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
              <span className="muted">
                median of {latency.runs} runs on {latency.backend}, {latency.imagesPerSecond.toFixed(0)} images/s
              </span>
            )}
          </div>
        </>
      )}
    </Panel>
  );
}
