/**
 * Ranked lists: what a ReID model actually retrieves. For one query at a time, the top-10
 * gallery images of the dense model and of the current (pruned / fine-tuned) model, green for
 * the query's identity and red for anyone else, each row with the query's AP. "Worst queries
 * first" orders by the current model's AP, so the failures pruning caused come up first.
 *
 * The worker embeds the evaluation set once per model state; paging then only fetches images.
 * Once shown, the lists follow the model: a prune or fine-tune refreshes them when the lab is idle.
 */
import { memo, useEffect, useMemo, useRef, useState } from 'react';
import type { DatasetSummary, ModelState, RankedItem, RankedListsPage, RankedListsRequest, RankedRow, Thumbnail } from '../../workers/api';
import { Panel } from './Panel';
import { InlineJob } from './InlineJob';
import type { JobView } from '../useLab';
import './RankedListsPanel.css';

interface Props {
  modelState: ModelState | null;
  dataset: DatasetSummary | null;
  busy: boolean;
  /** The running ranking job, shown in the panel. */
  job?: JobView;
  fetchPage(req: RankedListsRequest): Promise<RankedListsPage | null>;
}

const pct = (ap: number | null) => (ap === null ? 'n/a' : `${(ap * 100).toFixed(1)}%`);

const Thumb = memo(function Thumb({ t, label }: { t: Thumbnail; label: string }) {
  const ref = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    const ctx = ref.current?.getContext('2d');
    if (ctx) ctx.putImageData(new ImageData(new Uint8ClampedArray(t.rgba), t.width, t.height), 0, 0);
  }, [t]);
  return <canvas ref={ref} width={t.width} height={t.height} role="img" aria-label={label} />;
});

function Row({ which, title, row, thumbs }: { which: 'dense' | 'current'; title: string; row: RankedRow; thumbs: Thumbnail[] }) {
  const hits = row.items.filter((i) => i.match).length;
  const cell = (it: RankedItem, rank: number) => {
    const what = `Rank ${rank}: identity ${it.pid}, camera ${it.camera}, ${it.match ? 'a true match' : 'a false match'}`;
    return (
      <li
        key={it.gallery}
        className={`ranked-cell ${it.match ? 'match' : 'miss'}`}
        data-testid="ranked-cell"
        data-match={String(it.match)}
        data-pid={it.pid}
        data-camera={it.camera}
        data-gallery={it.gallery}
        data-distance={it.distance}
        title={`${what} (distance ${it.distance.toFixed(3)})`}
      >
        <Thumb t={thumbs[it.thumb]} label={what} />
        <span className="ranked-rank" aria-hidden="true">
          {rank} {it.match ? '\u2713' : '\u2717'}
        </span>
      </li>
    );
  };
  return (
    <div className="ranked-row" data-testid={`ranked-row-${which}`} data-ap={row.ap ?? ''} data-first-match={row.firstMatchRank}>
      <div className="ranked-row-head">
        <strong>{title}</strong>
        <span data-testid={`ranked-ap-${which}`}>AP {pct(row.ap)}</span>
        <span className="ranked-sub">
          {hits} of {row.items.length} correct{row.firstMatchRank > 0 ? `, first match at rank ${row.firstMatchRank}` : ''}
        </span>
      </div>
      <ol className="ranked-cells" aria-label={`${title}: top ${row.items.length} gallery images, ${hits} true matches`}>
        {row.items.map((it, i) => cell(it, i + 1))}
      </ol>
    </div>
  );
}

let datasetCounter = 0;

export function RankedListsPanel({ modelState, dataset, busy, fetchPage, job }: Props) {
  const [shown, setShown] = useState(false);
  // Worst queries first by default: the failures are what the lists are for.
  const [worst, setWorst] = useState(true);
  const [position, setPosition] = useState(0);
  const [page, setPage] = useState<RankedListsPage | null>(null);
  // A new dataset object (even with the same name) is new data: its own key, back to the first query.
  const datasetKey = useMemo(() => (dataset ? ++datasetCounter : 0), [dataset]);
  useEffect(() => {
    setPosition(0);
    setPage(null);
  }, [datasetKey]);

  const ready = Boolean(modelState && dataset);
  const order: RankedListsRequest['order'] = worst ? 'worst' : 'query';
  const want = ready ? `${datasetKey}|${modelState!.stateId}|${order}|${position}` : '';
  const pageKey = useRef('');
  const asked = useRef('');

  // Fetch what is wanted once the lab is idle (after a prune, its evaluation runs first). A failed
  // request is not retried by itself: the banner has said why, and the buttons ask again.
  useEffect(() => {
    if (!shown || !ready || busy || want === pageKey.current || want === asked.current) return;
    const timer = setTimeout(() => {
      asked.current = want;
      void fetchPage({ order, offset: position, count: 1 }).then((p) => {
        if (!p || asked.current !== want) return;
        pageKey.current = want;
        setPage(p);
      });
    }, 150);
    return () => clearTimeout(timer);
  }, [shown, ready, busy, want, order, position, fetchPage]);

  const total = page?.total ?? dataset?.query.images ?? 0;
  const q = page?.queries[0];
  const stale = page !== null && pageKey.current !== want;
  const go = (p: number) => {
    asked.current = '';
    setPosition(Math.max(0, Math.min(total - 1, p)));
  };

  return (
    <Panel id="ranked" title="Ranked lists">
      {!ready ? (
        <p className="hint" data-testid="ranked-hint">
          Load a model and a dataset first: the lists show which gallery images each model retrieves for a query.
        </p>
      ) : !shown ? (
        <div className="ranked-intro">
          <p className="hint">
            For each query, the 10 gallery images the dense and the current model rank first, green for the same person and red for anyone else. The lab embeds the
            query and gallery images once per model.
          </p>
          <button type="button" data-testid="ranked-show" disabled={busy} onClick={() => setShown(true)}>
            Show ranked lists
          </button>
        </div>
      ) : (
        <>
          <div className="ranked-controls" role="group" aria-label="Choose the query">
            <button type="button" className="secondary" data-testid="ranked-prev" aria-label="Previous query" disabled={busy || position === 0} onClick={() => go(position - 1)}>
              {'\u2190'} Previous
            </button>
            <span data-testid="ranked-position" aria-live="polite">
              {worst ? 'Worst' : 'Query'} {position + 1} of {total}
            </span>
            <button type="button" className="secondary" data-testid="ranked-next" aria-label="Next query" disabled={busy || position >= total - 1} onClick={() => go(position + 1)}>
              Next {'\u2192'}
            </button>
            <label className="toggle">
              <input
                type="checkbox"
                data-testid="ranked-worst"
                checked={worst}
                disabled={busy}
                onChange={(e) => {
                  setWorst(e.target.checked);
                  go(0);
                }}
              />
              Worst queries first (lowest AP of the current model)
            </label>
          </div>
          <InlineJob job={job} testId="ranked-progress" />
          {!q ? (
            <p className="hint" data-testid="ranked-loading">
              Ranking the gallery{'\u2026'}
            </p>
          ) : (
            <div className={`ranked-body ${stale ? 'stale' : ''}`} data-testid="ranked-lists" data-state-id={page!.stateId} data-query={q.query} data-position={q.position} data-stale={String(stale)}>
              <figure className="ranked-query" data-testid="ranked-query" data-pid={q.pid} data-camera={q.camera}>
                <Thumb t={page!.thumbs[q.thumb]} label={`Query ${q.query + 1}: identity ${q.pid}, camera ${q.camera}`} />
                <figcaption>
                  query #{q.query + 1}
                  <br />
                  id {q.pid}, cam {q.camera}
                </figcaption>
              </figure>
              <div className="ranked-rows">
                <Row which="dense" title={`Dense (mAP ${pct(page!.mAP.dense)})`} row={q.dense} thumbs={page!.thumbs} />
                <Row which="current" title={`Current model (mAP ${pct(page!.mAP.current)})`} row={q.current} thumbs={page!.thumbs} />
                {page!.currentIsDense && (
                  <p className="ranked-sub" data-testid="ranked-same">
                    The current model is the dense one; prune or fine-tune to see the rows differ.
                  </p>
                )}
              </div>
            </div>
          )}
        </>
      )}
    </Panel>
  );
}
