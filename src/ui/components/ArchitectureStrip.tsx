/**
 * The model at a glance: one bar per conv layer in forward order, grouped by stage. The filled
 * part is the layer's channels now, the outline the unpruned model's, so pruning shows as
 * bars emptying. Heights follow the square root of the channel count so a 32-channel stem stays
 * visible next to a 1024-channel trunk.
 */
import { formatMacs } from '../../engine/cost/macs';
import type { LayerChannels } from '../../workers/api';

const STAGE_NAMES = ['stem', 'layer1', 'layer2', 'layer3', 'layer4'];

function pct(c: number, max: number): string {
  return `${(Math.sqrt(c / max) * 100).toFixed(2)}%`;
}

export function ArchitectureStrip({ layers }: { layers: LayerChannels[] }) {
  const max = Math.max(1, ...layers.map((l) => l.original));
  const stages = STAGE_NAMES.map((name, s) => ({ name, layers: layers.filter((l) => l.stage === s) })).filter((s) => s.layers.length > 0);
  return (
    <figure className="strip" data-testid="model-strip" aria-label="Channels per conv layer">
      <div className="strip-stages">
        {stages.map((st) => (
          <div className="strip-stage" key={st.name} style={{ flexGrow: st.layers.length }}>
            <div className="strip-bars">
              {st.layers.map((l) => (
                <div
                  key={l.name}
                  className={`strip-bar ${l.kind}`}
                  data-testid="strip-bar"
                  data-layer={l.name}
                  data-channels={l.channels}
                  title={`${l.name}: ${l.channels} of ${l.original} channels, ${formatMacs(l.macs)} (${l.kind === 'inner' ? 'inner' : 'trunk'} group ${l.group})`}
                >
                  <div className="strip-ghost" style={{ height: pct(l.original, max) }} />
                  <div className="strip-fill" style={{ height: pct(l.channels, max) }} />
                </div>
              ))}
            </div>
            <div className="strip-label">{st.name}</div>
          </div>
        ))}
      </div>
      <figcaption className="strip-legend">
        <span className="swatch inner" /> inner channels (prunable per block) <span className="swatch trunk" /> residual trunk (shared by a stage)
        <span className="muted"> · bar height ∝ √channels · hover a bar for its count</span>
      </figcaption>
    </figure>
  );
}
