/**
 * The current model's score under the buttons that produce it: mAP, rank-1 and rank-5 with the
 * 95% bootstrap interval over query identities, and which evaluation it is (quick: a subset of
 * the identities' queries; full: every query; or the model card's figures).
 */
import type { EvalSummary } from '../../workers/api';

const pct = (x: number) => (x * 100).toFixed(2);
const ci = (iv: [number, number]) => `${(iv[0] * 100).toFixed(1)}\u2013${(iv[1] * 100).toFixed(1)}`;

export function ScoreLine({ ev }: { ev: EvalSummary }) {
  const iv = ev.interval;
  return (
    <span data-testid="last-eval" data-source={ev.source ?? 'live'} data-evaluation={ev.kind}>
      Current model on {ev.dataset}: mAP {pct(ev.mAP)}
      {iv && (
        <span className="ci" data-testid="eval-interval" title={`95% bootstrap interval over ${iv.identities} query identities`}>
          {' '}
          (95% CI {ci(iv.mAP)})
        </span>
      )}
      , rank-1 {pct(ev.rank1)}
      {iv && <span className="ci"> (95% CI {ci(iv.rank1)})</span>}, rank-5 {pct(ev.rank5)} ·{' '}
      <strong data-testid="eval-kind">
        {ev.kind === 'quick'
          ? `quick evaluation: ${ev.numValidQueries} queries of ${ev.testIdentities ?? '?'} of ${ev.ofTestIdentities ?? '?'} identities`
          : `full evaluation: ${ev.numValidQueries} queries`}
      </strong>
      , {ev.numGallery} gallery images
      {ev.source === 'card' && (
        <strong data-testid="from-card"> — from the model card (computed offline on these weights, not measured on this page; Full evaluation measures it here)</strong>
      )}
    </span>
  );
}
