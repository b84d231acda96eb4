/**
 * The panels whose engine parts are still being built. Each says what it will do, so the
 * page's layout (and a demo's story) is complete from the first version.
 */
import { Coming, Panel } from './Panel';

export function DataPanel() {
  return (
    <Panel id="data" title="Data" step={2}>
      <Coming>
        Pick the target domain: the built-in synthetic ReID benchmark, or a Market-1501-style folder or zip from your disk. The
        lab splits it into a small labelled fine-tuning subset (a handful of identities) and query/gallery sets for scoring,
        and checks that no identity is in both.
      </Coming>
    </Panel>
  );
}

export function PrunePanel() {
  return (
    <Panel id="prune" title="Prune" step={3}>
      <Coming>
        Choose a criterion (L1 norm, Taylor, entropy, FPGM, …), a scope (inner channels only, or the residual trunk too) and a
        rate or a cost target such as “half the MACs”. Pruned channels empty out in the model strip above, and the model is
        physically sliced so it really gets faster.
      </Coming>
    </Panel>
  );
}

export function FineTunePanel() {
  return (
    <Panel id="finetune" title="Fine-tune" step={4}>
      <Coming>
        Recover accuracy on the labelled subset with the batch-hard triplet loss (P×K batches), with live loss and mAP curves and
        a Cancel button that leaves the model as it was after the last finished step.
      </Coming>
    </Panel>
  );
}

const RUN_COLUMNS = ['Run', 'Criterion', 'Rate', 'MACs', 'Params', 'mAP', 'Rank-1', 'Latency'];

export function ResultsPanel() {
  return (
    <Panel id="results" title="Results" step={5}>
      <div className="results">
        <div className="chart-placeholder" aria-label="Accuracy versus cost chart (coming)">
          <span className="axis-y">mAP</span>
          <span className="axis-x">MACs</span>
          <Coming>Every run lands here as a point of accuracy versus cost, next to the paper’s published results.</Coming>
        </div>
        <table className="runs">
          <thead>
            <tr>
              {RUN_COLUMNS.map((c) => (
                <th key={c}>{c}</th>
              ))}
            </tr>
          </thead>
          <tbody>
            <tr>
              <td colSpan={RUN_COLUMNS.length} className="muted">
                No runs yet.
              </td>
            </tr>
          </tbody>
        </table>
      </div>
    </Panel>
  );
}
