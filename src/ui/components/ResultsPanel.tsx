/**
 * Step 5: every scored run as a point of accuracy against cost, coloured by criterion, with the
 * Pareto front; the paper's Table 5 beside it in its own units; and the runs table (sortable,
 * exportable). Runs persist in IndexedDB.
 */
import { memo, useEffect, useLayoutEffect, useMemo, useRef, useState } from 'react';
import { CartesianGrid, ErrorBar, Scatter, ScatterChart, Tooltip, XAxis, YAxis, ZAxis } from 'recharts';
import { useWidth } from './useWidth';
import { niceTicks } from '../ticks';
import { formatMacs, formatParams } from '../../engine/cost/macs';
import { PAPER_SOURCE, PAPER_TABLE5 } from '../paper-table5';
import { costOf, evaluationOf, intervalOf, paretoFront, type CostAxis, type Metric, type Run } from '../runs';
import type { LabConfig } from '../url';
import { ClearRuns } from './ClearRuns';
import { Panel } from './Panel';

const COLORS: Record<string, string> = {
  dense: '#1d232b',
  random: '#9aa4ae',
  l1: '#2f6fb0',
  l2: '#4a9fd8',
  'bn-scale': '#8e44ad',
  taylor: '#d35400',
  entropy: '#16a085',
  fpgm: '#c0392b',
  cop: '#b7950b',
  thinet: '#27ae60',
  'channel-pruning': '#e84393',
};
const color = (k: string) => COLORS[k] ?? '#7f8c8d';

const AXIS_LABEL: Record<CostAxis, string> = { macs: 'MACs per image', params: 'Parameters', latency: 'Latency, batch 1 (ms, median; bars p10\u2013p90)' };
const METRIC_LABEL: Record<Metric, string> = { mAP: 'mAP (%)', rank1: 'Rank-1 (%)' };

function fmtCost(axis: CostAxis, v: number): string {
  return axis === 'macs' ? formatMacs(v) : axis === 'params' ? formatParams(v) : `${v.toFixed(1)} ms`;
}

interface Point {
  x: number;
  y: number;
  run: Run;
  /** Distance from y down and up to the 95% interval's ends (percentage points), for the error bar. */
  err?: [number, number];
  /** Latency axis: distance from the median down to p10 and up to p90 (ms). */
  xErr?: [number, number];
}

/**
 * One run's marker: the colour is the criterion; a triangle is a fine-tuned run, a circle one that
 * was not; a hollow marker is a quick score (a subset of the identities' queries), a filled one
 * a full evaluation (or the model card's full-set figures).
 */
function RunMarker(props: { cx?: number; cy?: number; payload?: Point; fill?: string }) {
  const { cx, cy, payload } = props;
  if (cx === undefined || cy === undefined || !payload?.run) return <g />;
  const r = payload.run;
  const c = color(series(r));
  const quick = evaluationOf(r) === 'quick';
  const fineTuned = r.fineTuneSteps > 0;
  const common = { fill: quick ? '#fff' : c, stroke: c, strokeWidth: 2.5 };
  const testAttrs = { 'data-testid': 'run-marker', 'data-shape': fineTuned ? 'triangle' : 'circle', 'data-fill': quick ? 'hollow' : 'filled' };
  return fineTuned ? (
    <polygon points={`${cx},${cy - 7} ${cx - 6.5},${cy + 5} ${cx + 6.5},${cy + 5}`} {...common} {...testAttrs} />
  ) : (
    <circle cx={cx} cy={cy} r={5.5} {...common} {...testAttrs} />
  );
}

const series = (r: Run) => r.criterion ?? 'dense';

/**
 * Presenter mode: the chart ends where the first screen ends (its top measured once laid out,
 * and on resizes), so it is seen whole without scrolling; never shorter than 180 px.
 */
function usePresenterHeight(large: boolean | undefined, above: React.RefObject<HTMLElement | null>): number {
  const [height, setHeight] = useState(420);
  useLayoutEffect(() => {
    if (!large) return;
    const measure = () => {
      const el = above.current;
      if (!el) return;
      const top = el.getBoundingClientRect().bottom + window.scrollY;
      const h = Math.max(180, Math.min(520, Math.floor(window.innerHeight - top - 12)));
      setHeight((old) => (Math.abs(old - h) >= 2 ? h : old));
    };
    measure();
    // What sits above the chart (score line, banners, legend) moves it after the first layout,
    // and nothing reports a move: look again twice a second (one layout read, no render unless it moved).
    const timer = setInterval(measure, 500);
    window.addEventListener('resize', measure);
    return () => {
      clearInterval(timer);
      window.removeEventListener('resize', measure);
    };
  }, [large, above]);
  return height;
}

const RunsChart = memo(function RunsChart({ runs, axis, metric, large }: { runs: Run[]; axis: CostAxis; metric: Metric; large?: boolean }) {
  const points: Point[] = runs.flatMap((run) => {
    const x = costOf(run, axis);
    if (x === null) return [];
    const y = run[metric] * 100;
    const iv = intervalOf(run, metric);
    const spread = axis === 'latency' && typeof run.latencyP10 === 'number' && typeof run.latencyP90 === 'number' ? ([Math.max(0, x - run.latencyP10), Math.max(0, run.latencyP90 - x)] as [number, number]) : null;
    return [{ x, y, run, ...(iv ? { err: [Math.max(0, y - iv[0] * 100), Math.max(0, iv[1] * 100 - y)] as [number, number] } : {}), ...(spread ? { xErr: spread } : {}) }];
  });
  const anyQuick = runs.some((r) => evaluationOf(r) === 'quick');
  const anyFineTuned = runs.some((r) => r.fineTuneSteps > 0);
  const groups = new Map<string, Point[]>();
  for (const p of points) {
    const k = series(p.run);
    if (!groups.has(k)) groups.set(k, []);
    groups.get(k)!.push(p);
  }
  const front = paretoFront(points, (p) => p.x, (p) => p.y);
  const [ref, width] = useWidth<HTMLDivElement>(640);
  const keyRef = useRef<HTMLUListElement>(null);
  const presenterHeight = usePresenterHeight(large, keyRef);
  // Ticks computed here: distinct labels even for one run, error bars inside the domain.
  const xTicks = niceTicks(points.flatMap((p) => [p.x - (p.xErr?.[0] ?? 0), p.x + (p.xErr?.[1] ?? 0)]), (v) => fmtCost(axis, v));
  const yTicks = niceTicks(points.flatMap((p) => [p.y - (p.err?.[0] ?? 0), p.y + (p.err?.[1] ?? 0)]), (v) => v.toFixed(1));
  const fontSize = large ? 18 : 12;
  // The rightmost tick label is centred on the plot's edge: leave half its width as margin.
  const lastLabel = xTicks ? fmtCost(axis, xTicks.ticks[xTicks.ticks.length - 1]) : '';
  const right = Math.max(24, Math.ceil(lastLabel.length * fontSize * 0.32));
  // The legend is plain HTML: recharts' own legend measures itself and renders the chart twice.
  return (
    <div className="chart" data-testid="results-chart" data-points={points.length} data-front={front.length} data-xticks={xTicks?.ticks.map((v) => fmtCost(axis, v)).join('|') ?? ''} ref={ref}>
      <ul className="legend">
        {[...groups.entries()].map(([k, pts]) => (
          <li key={k}>
            <span className="dot" style={{ background: color(k) }} />
            {k === 'dense' ? 'dense / fine-tuned dense' : (pts[0].run.criterionName ?? k)}
          </li>
        ))}
        {front.length > 1 && (
          <li>
            <span className="dash" /> Pareto front
          </li>
        )}
      </ul>
      <ul className="legend marker-key" data-testid="marker-key" ref={keyRef}>
        <li>
          <svg width="14" height="14" aria-hidden="true"><circle cx="7" cy="7" r="5" fill="#555" stroke="#555" /></svg> not fine-tuned
        </li>
        {anyFineTuned && (
          <li>
            <svg width="14" height="14" aria-hidden="true"><polygon points="7,1 1,12 13,12" fill="#555" stroke="#555" /></svg> fine-tuned
          </li>
        )}
        <li>
          <svg width="14" height="14" aria-hidden="true"><circle cx="7" cy="7" r="5" fill="#555" stroke="#555" /></svg> full evaluation
        </li>
        {anyQuick && (
          <li>
            <svg width="14" height="14" aria-hidden="true"><circle cx="7" cy="7" r="5" fill="#fff" stroke="#555" strokeWidth="2" /></svg> quick evaluation
          </li>
        )}
        <li>
          <span className="errbar" aria-hidden="true" /> 95% interval
        </li>
      </ul>
      <ScatterChart width={width} height={large ? presenterHeight : 320} margin={{ top: 10, right, bottom: large ? 34 : 24, left: 8 }}>
          <CartesianGrid stroke="#eef1f4" />
          <XAxis
            type="number"
            dataKey="x"
            name={AXIS_LABEL[axis]}
            domain={xTicks ? xTicks.domain : ['auto', 'auto']}
            {...(xTicks ? { ticks: xTicks.ticks } : { tickCount: 6 })}
            interval={0}
            tickFormatter={(v: number) => fmtCost(axis, v)}
            label={{ value: AXIS_LABEL[axis], position: 'insideBottom', offset: large ? -22 : -14, fontSize }}
            tick={{ fontSize }}
            height={large ? 56 : 40}
          />
          <YAxis
            type="number"
            dataKey="y"
            name={METRIC_LABEL[metric]}
            domain={yTicks ? yTicks.domain : ['auto', 'auto']}
            {...(yTicks ? { ticks: yTicks.ticks } : { tickCount: 6 })}
            interval={0}
            tickFormatter={(v: number) => v.toFixed(1)}
            label={{ value: METRIC_LABEL[metric], angle: -90, position: 'insideLeft', fontSize }}
            tick={{ fontSize }}
            width={large ? 76 : 56}
          />
          <ZAxis range={[90, 90]} />
          <Tooltip
            isAnimationActive={false}
            content={({ payload }) => {
              const p = payload?.[0]?.payload as Point | undefined;
              if (!p?.run) return null;
              const r = p.run;
              return (
                <div className="tip">
                  <strong>{r.kind === 'baseline' ? 'dense baseline' : `${r.criterionName ?? 'dense'}${r.rate !== null ? `, ${(r.rate * 100).toFixed(0)}% removed` : ''}`}</strong>
                  {r.fineTuneSteps > 0 && <div>fine-tuned {r.fineTuneSteps} steps</div>}
                  {r.source === 'card' && <div>from the model card, not measured on this page</div>}
                  <div>
                    {METRIC_LABEL[metric]}: {p.y.toFixed(2)}
                    {p.err ? ` (95% CI ${(p.y - p.err[0]).toFixed(1)}\u2013${(p.y + p.err[1]).toFixed(1)})` : ''} · {fmtCost(axis, p.x)}
                  </div>
                  <div>{evaluationOf(r) === 'quick' ? 'quick evaluation (a subset of the identities\u2019 queries)' : 'full evaluation'}</div>
                  <div className="muted">{r.dataset}</div>
                </div>
              );
            }}
          />
          {[...groups.entries()].map(([k, pts]) => (
            <Scatter key={k} name={k === 'dense' ? 'dense / fine-tuned dense' : (pts[0].run.criterionName ?? k)} data={pts} fill={color(k)} shape={RunMarker} isAnimationActive={false}>
              <ErrorBar isAnimationActive={false} dataKey="err" direction="y" width={5} stroke={color(k)} strokeWidth={1.5} />
              {axis === 'latency' && <ErrorBar isAnimationActive={false} dataKey="xErr" direction="x" width={5} stroke={color(k)} strokeWidth={1.5} />}
            </Scatter>
          ))}
          {front.length > 1 && (
            <Scatter name="Pareto front" data={front} fill="none" line={{ stroke: '#2e7d4f', strokeDasharray: '5 4', strokeWidth: 2 }} shape={() => <g />} legendType="line" isAnimationActive={false} />
          )}
      </ScatterChart>
    </div>
  );
});

const PaperChart = memo(function PaperChart({ metric, large }: { metric: Metric; large?: boolean }) {
  const dense = PAPER_TABLE5.filter((r) => r.kind === 'dense').map((r) => ({ x: r.gflops, y: r.market[metric], name: r.network }));
  const pruned = PAPER_TABLE5.filter((r) => r.kind === 'pruned').map((r) => ({ x: r.gflops, y: r.market[metric], name: r.network }));
  const [ref, width] = useWidth<HTMLElement>(360);
  return (
    <figure className="chart paper" data-testid="paper-chart" data-points={dense.length + pruned.length} ref={ref}>
      <figcaption>
        <strong>Paper reference</strong> (Table 5, Market-1501) — <em>GFLOPs as the paper counts them</em>, not comparable to the lab’s MACs axis.
        <ul className="legend">
          <li>
            <span className="dot square" style={{ background: '#1d232b' }} /> dense ResNet-18/34/50
          </li>
          <li>
            <span className="dot diamond" style={{ background: '#d35400' }} /> pruned ResNet-50 (Hao Li, Molchanov, AutoBalanced, Entropy, PSFP)
          </li>
        </ul>
      </figcaption>
        <ScatterChart width={Math.max(200, width - 16)} height={260} margin={{ top: 10, right: 16, bottom: 24, left: 0 }}>
          <CartesianGrid stroke="#eef1f4" />
          <XAxis type="number" dataKey="x" domain={[2.5, 7]} interval={0} label={{ value: 'GFLOPs (paper)', position: 'insideBottom', offset: -14 }} tick={{ fontSize: large ? 18 : 12 }} />
          <YAxis type="number" dataKey="y" domain={['auto', 'auto']} width={large ? 60 : 44} interval={0} tick={{ fontSize: large ? 18 : 12 }} />
          <ZAxis range={[70, 70]} />
          <Tooltip
            isAnimationActive={false}
            content={({ payload }) => {
              const p = payload?.[0]?.payload as { x: number; y: number; name: string } | undefined;
              return p ? (
                <div className="tip">
                  <strong>{p.name}</strong>
                  <div>
                    {METRIC_LABEL[metric]} {p.y.toFixed(2)} · {p.x} GFLOPs (paper)
                  </div>
                </div>
              ) : null;
            }}
          />
          <Scatter name="dense ResNets (paper)" data={dense} fill="#1d232b" shape="square" isAnimationActive={false} />
          <Scatter name="pruned ResNet-50 (paper)" data={pruned} fill="#d35400" shape="diamond" isAnimationActive={false} />
        </ScatterChart>
      <p className="source muted small">{PAPER_SOURCE}</p>
    </figure>
  );
});

type SortKey = 'criterion' | 'rate' | 'scope' | 'macs' | 'params' | 'latencyMs' | 'mAP' | 'rank1' | 'rank5' | 'fineTuneSteps' | 'evaluation' | 'createdAt';
const COLUMNS: { key: SortKey; label: string }[] = [
  { key: 'criterion', label: 'Criterion' },
  { key: 'rate', label: 'Rate' },
  { key: 'scope', label: 'Scope' },
  { key: 'macs', label: 'MACs' },
  { key: 'params', label: 'Params' },
  { key: 'latencyMs', label: 'Latency' },
  { key: 'mAP', label: 'mAP' },
  { key: 'rank1', label: 'R1' },
  { key: 'rank5', label: 'R5' },
  { key: 'fineTuneSteps', label: 'FT steps' },
  { key: 'evaluation', label: 'Evaluation' },
];

/** "31.20" and, when the run has one, its 95% interval in small type. */
function Score({ v, iv }: { v: number; iv: [number, number] | null }) {
  return (
    <>
      {(v * 100).toFixed(2)}
      {iv && <span className="muted small ci"> [{(iv[0] * 100).toFixed(1)}, {(iv[1] * 100).toFixed(1)}]</span>}
    </>
  );
}

function RunsTable({ runs }: { runs: Run[] }) {
  const [sort, setSort] = useState<{ key: SortKey; dir: 1 | -1 }>({ key: 'createdAt', dir: 1 });
  const sorted = useMemo(() => {
    const v = (r: Run) => (sort.key === 'criterion' ? (r.criterionName ?? '') : sort.key === 'evaluation' ? evaluationOf(r) : r[sort.key]);
    return [...runs].sort((a, b) => {
      const x = v(a);
      const y = v(b);
      if (x === y) return 0;
      if (x === null) return 1;
      if (y === null) return -1;
      return (x < y ? -1 : 1) * sort.dir;
    });
  }, [runs, sort]);
  return (
    <table className="runs" data-testid="runs-table">
      <thead>
        <tr>
          {COLUMNS.map((c) => (
            <th key={c.key} aria-sort={sort.key === c.key ? (sort.dir === 1 ? 'ascending' : 'descending') : 'none'}>
              <button type="button" className="sort" onClick={() => setSort((s) => ({ key: c.key, dir: s.key === c.key ? ((-s.dir) as 1 | -1) : 1 }))}>
                {c.label}
                {sort.key === c.key ? (sort.dir === 1 ? ' ▲' : ' ▼') : ''}
              </button>
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        {sorted.length === 0 ? (
          <tr>
            <td colSpan={COLUMNS.length} className="muted">
              No runs yet.
            </td>
          </tr>
        ) : (
          sorted.map((r) => (
            <tr key={r.id} data-testid="run-row" data-kind={r.kind} data-ptl={r.ptl ? 'true' : 'false'} data-source={r.source ?? 'live'} data-evaluation={evaluationOf(r)}>
              <td>
                <span className="dot" style={{ background: color(series(r)) }} />
                {r.criterionName ?? (r.kind === 'fine-tuned' ? 'dense' : 'dense (baseline)')}
                {r.strategy && r.strategy !== 'once' ? ` · ${r.strategy}` : ''}
                {r.ptl && (
                  <span className="tag" title={`Fine-tuned with PTL; its side branch (${formatMacs(r.branchMacs ?? 0)}, ${formatParams(r.branchParams ?? 0)} params) is counted in MACs and Params`}>
                    {' '}
                    · PTL
                  </span>
                )}
                {r.source === 'card' && (
                  <span className="tag" data-testid="run-from-card" title="These figures come from the zoo model's card.json (computed offline by `lab card` on these weights and this dataset); press Evaluate to measure them on this page.">
                    {' '}
                    · from the model card
                  </span>
                )}
              </td>
              <td>{r.rate === null ? '—' : `${(r.rate * 100).toFixed(0)}%`}</td>
              <td>{r.scope ?? '—'}</td>
              <td>{formatMacs(r.macs)}</td>
              <td>{formatParams(r.params)}</td>
              <td>{r.latencyMs === null ? '—' : `${r.latencyMs.toFixed(1)} ms`}</td>
              <td>
                <Score v={r.mAP} iv={intervalOf(r, 'mAP')} />
              </td>
              <td>
                <Score v={r.rank1} iv={intervalOf(r, 'rank1')} />
              </td>
              <td>{(r.rank5 * 100).toFixed(2)}</td>
              <td>{r.fineTuneSteps || '—'}</td>
              <td>{r.source === 'card' ? 'full (card)' : evaluationOf(r)}</td>
            </tr>
          ))
        )}
      </tbody>
    </table>
  );
}

interface Props {
  runs: Run[];
  config: LabConfig;
  setConfig(p: Partial<LabConfig>): void;
  dataset: string | null;
  onExport(format: 'csv' | 'json'): void;
  onClear(): void;
}

export const ResultsPanel = memo(function ResultsPanel({ runs, config, setConfig, dataset, onExport, onClear }: Props) {
  const [allDatasets, setAllDatasets] = useState(false);
  // The chart takes new runs in a task of its own, not in the same commit as the rest of the
  // page's update (model strip, job bars, scores): each piece of main-thread work stays short.
  const [deferredRuns, setDeferredRuns] = useState(runs);
  useEffect(() => {
    const t = setTimeout(() => setDeferredRuns(runs), 16);
    return () => clearTimeout(t);
  }, [runs]);
  const shown = useMemo(() => (allDatasets || !dataset ? deferredRuns : deferredRuns.filter((r) => r.dataset === dataset)), [deferredRuns, allDatasets, dataset]);
  return (
    <Panel id="results" title="Results" step={5}>
      <div className="results-controls">
        <div className="seg" role="group" aria-label="Accuracy metric">
          {(['mAP', 'rank1'] as const).map((m) => (
            <button key={m} type="button" className={config.metric === m ? 'on' : ''} data-testid={`metric-${m}`} onClick={() => setConfig({ metric: m })}>
              {m === 'mAP' ? 'mAP' : 'Rank-1'}
            </button>
          ))}
        </div>
        <div className="seg" role="group" aria-label="Cost axis">
          {(['macs', 'params', 'latency'] as const).map((a) => (
            <button key={a} type="button" className={config.xAxis === a ? 'on' : ''} data-testid={`axis-${a}`} onClick={() => setConfig({ xAxis: a })}>
              {a === 'macs' ? 'MACs' : a === 'params' ? 'Params' : 'Latency'}
            </button>
          ))}
        </div>
        <label className="toggle">
          <input type="checkbox" data-testid="paper-toggle" checked={config.paper} onChange={(e) => setConfig({ paper: e.target.checked })} /> Paper reference
        </label>
        <label className="toggle">
          <input type="checkbox" data-testid="all-datasets" checked={allDatasets} onChange={(e) => setAllDatasets(e.target.checked)} /> All datasets
        </label>
      </div>
      <div className={`charts ${config.paper ? 'with-paper' : ''}`}>
        <RunsChart runs={shown} axis={config.xAxis} metric={config.metric} large={config.present} />
        {config.paper && <PaperChart metric={config.metric} large={config.present} />}
      </div>
      <div className="table-head">
        <span className="muted">
          {shown.length} run{shown.length === 1 ? '' : 's'}
          {dataset && !allDatasets ? ` on ${dataset}` : ''} · kept in this browser
        </span>
        <div className="actions tight">
          <button type="button" className="secondary" data-testid="export-csv" onClick={() => onExport('csv')} disabled={runs.length === 0}>
            Export CSV
          </button>
          <button type="button" className="secondary" data-testid="export-json" onClick={() => onExport('json')} disabled={runs.length === 0}>
            Export JSON
          </button>
          <ClearRuns count={runs.length} onClear={onClear} />
        </div>
      </div>
      <div className="table-wrap">
        <RunsTable runs={shown} />
      </div>
    </Panel>
  );
});
