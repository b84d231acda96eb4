/**
 * Reproduce the paper: its Table 5 exactly as published (its units: params M, GFLOPs as the
 * paper counts them, Market-1501 / DukeMTMC-reID / CUHK03-NP mAP and rank-1) next to the lab's
 * analogue (our units: MACs, params, SynthReID target mAP / rank-1 as mean ± std over seeds),
 * never mixed in one column; a verdict with its evidence for each of the paper's three claims.
 *
 * Shown by default: the committed runs (public/reproduction.json, written by
 * `npm run lab -- reproduce --json-out public/reproduction.json [--compare v1.json]`): the first
 * regime (zoo v2) with the others one click away, each labelled with its regime, date, machine
 * and seeds, its preconditions above the verdicts. "Run quick reproduction" runs `lab reproduce --quick` in the worker, with
 * progress, ETA and cancel; finished cells are kept in this browser, so a rerun resumes.
 * `?repro=tiny` swaps the zoo for tiny random models and tier XS (tests; numbers mean nothing).
 */
import { useEffect, useState } from 'react';
import type { JobView } from '../useLab';
import type { ReproduceRequest, ReproduceTick, ReproduceView } from '../../workers/api';
import { PAPER_TABLE5, PAPER_TABLE5_SOURCE, paperNumber } from '../../engine/scenarios/paper-table5';
import { committedWhat } from '../reproduce-label';
import { parseReproductions, type ReproductionRecord } from '../../engine/scenarios/reproduction-json';
import { restsOn, type Precondition } from '../../engine/scenarios/preconditions';
import type { ClaimVerdict, RowSummary, Stat, VerdictKind } from '../../engine/scenarios/report';
import { SCENARIO_NUMBER, SCENARIO_TITLE } from '../../engine/scenarios/types';
import { formatMacs } from '../../engine/cost/macs';
import { Panel } from './Panel';
import './ReproducePanel.css';

const TINY: ReproduceRequest = { models: 'tiny', tier: 'XS', seeds: 1, steps: 2, p: 4, k: 2, fineTuneIds: 6, imagesPerId: 2, evalIds: 0 };
const REQUEST: ReproduceRequest = new URLSearchParams(window.location.search).get('repro') === 'tiny' ? TINY : { models: 'zoo', quick: true };

interface Props {
  busy: boolean;
  ready: boolean;
  /** The running reproduction's job, if any (its progress and cancel). */
  job: JobView | undefined;
  run(req: ReproduceRequest, onTick: (t: ReproduceTick) => void): Promise<ReproduceView | null>;
}

/** What both sources of results have in common. */
interface Shown {
  kind: 'committed' | 'local';
  /** The regime's id ("v1", "v2") for committed runs. */
  regime?: string;
  label: string;
  preconditions: Precondition[];
  rows: RowSummary[];
  verdicts: ClaimVerdict[];
  missingRows: string[];
  notes: string[];
  setup: string;
}

const VERDICT_TEXT: Record<VerdictKind, string> = { holds: 'holds', 'does not hold': 'does not hold here', inconclusive: 'inconclusive' };
const VERDICT_CLASS: Record<VerdictKind, string> = { holds: 'holds', 'does not hold': 'fails', inconclusive: 'unsure' };

function pm(s: Stat, digits = 1): string {
  if (s.n === 0 || Number.isNaN(s.mean)) return '—';
  return s.n > 1 ? `${s.mean.toFixed(digits)} ± ${s.std.toFixed(digits)}` : s.mean.toFixed(digits);
}

function formatEta(sec: number): string {
  if (!Number.isFinite(sec)) return 'estimating time left…';
  if (sec < 60) return `about ${Math.max(1, Math.round(sec))} s left`;
  return `about ${Math.round(sec / 60)} min left`;
}

function budgetText(b: { steps: number; p: number; k: number }, seeds: number[], tier: string, macsKeep: number): string {
  const cost = Number.isFinite(macsKeep) ? `; pruned rows keep ${(100 * macsKeep).toFixed(1)}% of ResNet-50's MACs (= ResNet-18's)` : '';
  return `SynthReID ${tier}; ${seeds.length} seed${seeds.length === 1 ? '' : 's'} (${seeds.join(', ')}); fine-tuning ${b.steps} steps × P${b.p} × K${b.k} = ${b.steps * b.p * b.k} images seen in every row${cost}`;
}

function duration(sec: number): string {
  return sec < 90 ? `${Math.round(sec)} s` : `${(sec / 60).toFixed(1)} min`;
}

/** The record's "Models: ..." setup line (folders and weight fingerprints), with a space after it; empty if absent. */
function modelsLine(setup: readonly string[]): string {
  const line = setup.find((l) => l.startsWith('Models:'));
  return line ? `${line} ` : '';
}

/** A record without a regime was written before regimes existed: zoo v1. */
function regimeOf(r: ReproductionRecord): { id: string; label: string } {
  return r.regime ?? { id: 'v1', label: 'v1: trained from scratch on SynthReID S source (150 identities)' };
}

function fromRecord(r: ReproductionRecord): Shown {
  const regime = regimeOf(r);
  return {
    kind: 'committed',
    regime: regime.id,
    label: `Committed ${committedWhat(r)}, zoo ${regime.label}; of ${r.date} on ${r.machine}`,
    preconditions: r.preconditions ?? [],
    rows: r.rows,
    verdicts: r.verdicts,
    missingRows: [],
    notes: r.notes,
    // The zoo changes between runs (v1: from scratch on S; v2: pre-trained, then M source): name the models this run used.
    setup: `${budgetText(r.budget, r.seeds, r.tier, r.macsKeep)}. ${modelsLine(r.setup)}${Number.isFinite(r.wallSeconds) ? `${duration(r.wallSeconds)} of new runs. ` : ''}Command: ${r.command}`,
  };
}

function fromView(v: ReproduceView): Shown {
  const what = v.models === 'tiny' ? 'tiny random models (test set-up)' : 'the zoo models';
  return {
    kind: 'local',
    label: `This browser's quick run (${what}, ${v.backend} backend${v.cancelled ? ', stopped early' : ''})`,
    preconditions: [],
    rows: v.rows,
    verdicts: v.verdicts,
    missingRows: v.missingRows,
    notes: v.notes,
    setup: `${budgetText(v.budget, v.seeds, v.tier, v.macsKeep)}. ${v.ran} cell(s) run now, ${v.reused} reused from this browser's cache${v.notRun ? `, ${v.notRun} not run yet` : ''}; ${duration(v.seconds)}.`,
  };
}

function PaperTable() {
  return (
    <table className="repro-table" data-testid="repro-paper-table">
      <caption>The paper's Table 5, as published (its units)</caption>
      <thead>
        <tr>
          <th rowSpan={2}>Network</th>
          <th rowSpan={2}>Params (M)</th>
          <th rowSpan={2}>GFLOPs (paper's count)</th>
          <th colSpan={2}>Market-1501</th>
          <th colSpan={2}>DukeMTMC-reID</th>
          <th colSpan={2}>CUHK03-NP</th>
        </tr>
        <tr>
          <th>mAP</th>
          <th>R1</th>
          <th>mAP</th>
          <th>R1</th>
          <th>mAP</th>
          <th>R1</th>
        </tr>
      </thead>
      <tbody>
        {PAPER_TABLE5.map((r) => (
          <tr key={r[0]} data-testid="repro-paper-row" data-network={r[0]}>
            <th scope="row">{r[0]}</th>
            {r.slice(1).map((v, i) => (
              <td key={i}>{paperNumber(v as number)}</td>
            ))}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function LabTable({ shown }: { shown: Shown }) {
  return (
    <table className="repro-table" data-testid="repro-lab-table">
      <caption>The lab's analogue (our units; SynthReID target, after fine-tuning)</caption>
      <thead>
        <tr>
          <th>Row</th>
          <th title="1 prune at the source, 2 fine-tune / prune / fine-tune on the target, 3 prune while fine-tuning, 4 fine-tune only">Scenario</th>
          <th>MACs</th>
          <th>Params (M)</th>
          <th>mAP (%)</th>
          <th>R1 (%)</th>
          <th>Seeds</th>
        </tr>
      </thead>
      <tbody>
        {shown.rows.map((s) => {
          const missing = shown.missingRows.includes(s.row.id);
          const ran = s.n > 0;
          return (
            <tr key={s.row.id} data-testid="repro-lab-row" data-row={s.row.id} data-state={ran ? 'ran' : missing ? 'missing' : 'not-run'}>
              <th scope="row">
                {s.row.label}
                {s.row.paper && <span className="repro-paper-name"> ({s.row.paper})</span>}
              </th>
              <td title={SCENARIO_TITLE[s.row.scenario]}>{SCENARIO_NUMBER[s.row.scenario]}</td>
              {ran ? (
                <>
                  <td>{formatMacs(s.macs.mean)}</td>
                  <td>{(s.params.mean / 1e6).toFixed(2)}</td>
                  <td>{pm(s.after.mAP)}</td>
                  <td>{pm(s.after.rank1)}</td>
                  <td>{s.n}</td>
                </>
              ) : (
                <td colSpan={5} className="muted">
                  {missing ? 'model not in the zoo yet' : 'not run yet'}
                </td>
              )}
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

const STATUS_CLASS: Record<Precondition['status'], string> = { held: 'holds', failed: 'fails', unknown: 'unsure', stated: 'unsure' };
const STATUS_BADGE: Record<Precondition['status'], string> = { held: 'held', failed: 'failed', unknown: 'not known', stated: 'measured' };

function Preconditions({ items }: { items: Precondition[] }) {
  return (
    <div className="repro-preconditions" data-testid="repro-preconditions">
      <h3>Preconditions (measured before the verdicts)</h3>
      <ul>
        {items.map((p) => (
          <li key={p.id} data-testid="repro-precondition" data-id={p.id} data-status={p.status}>
            <span className={`repro-badge ${STATUS_CLASS[p.status]}`}>{STATUS_BADGE[p.status]}</span> {p.text} <span className="muted">(claims {p.claims.join(', ')})</span>
            <ul>
              {p.evidence.map((e, j) => (
                <li key={j} className="muted">
                  {e}
                </li>
              ))}
            </ul>
          </li>
        ))}
      </ul>
    </div>
  );
}

function Verdicts({ verdicts, preconditions }: { verdicts: ClaimVerdict[]; preconditions: Precondition[] }) {
  return (
    <ol className="repro-verdicts" data-testid="repro-verdicts">
      {verdicts.map((v, i) => {
        const rests = restsOn(preconditions, i + 1);
        return (
        <li key={i} className={`repro-verdict ${VERDICT_CLASS[v.verdict]}`} data-testid="repro-verdict" data-verdict={v.verdict}>
          <div className="repro-claim">
            <span className={`repro-badge ${VERDICT_CLASS[v.verdict]}`}>{VERDICT_TEXT[v.verdict]}</span>
            <span>
              Claim {i + 1}: {v.claim}
            </span>
          </div>
          <p className="repro-headline">Decided by: {v.headline}.</p>
          {rests && (
            <p className="repro-headline" data-testid="repro-rests-on">
              Rests on: {rests}.
            </p>
          )}
          <details>
            <summary>Evidence ({v.evidence.length})</summary>
            <ul>
              {v.evidence.map((e, j) => (
                <li key={j}>{e}</li>
              ))}
            </ul>
          </details>
        </li>
        );
      })}
    </ol>
  );
}

export function ReproducePanel({ busy, ready, job, run }: Props) {
  const [committed, setCommitted] = useState<ReproductionRecord[]>([]);
  const [committedError, setCommittedError] = useState<string | null>(null);
  const [local, setLocal] = useState<ReproduceView | null>(null);
  // A committed record's index (0: the file's first regime, the default) or this browser's run.
  const [view, setView] = useState<number | 'local'>(0);
  const [tick, setTick] = useState<ReproduceTick | null>(null);
  const [running, setRunning] = useState(false);
  // One seed is the CLI's --quick; three give the spread the verdicts need (seed 1's cells are reused).
  const [seeds, setSeeds] = useState<1 | 3>(1);

  useEffect(() => {
    let live = true;
    (async () => {
      try {
        const res = await fetch(`${import.meta.env.BASE_URL}reproduction.json`, { cache: 'no-cache' });
        if (!res.ok) return;
        const text = await res.text();
        // A static host may answer a missing file with the page itself.
        if (!text.trimStart().startsWith('{')) return;
        const recs = parseReproductions(text);
        if (live) setCommitted(recs);
      } catch (e) {
        if (live) setCommittedError(e instanceof Error ? e.message : String(e));
      }
    })();
    return () => {
      live = false;
    };
  }, []);

  const start = async () => {
    setRunning(true);
    setTick(null);
    try {
      const out = await run({ ...REQUEST, seeds }, (t) => setTick(t));
      if (out) {
        setLocal(out);
        setView('local');
      }
    } finally {
      setRunning(false);
      setTick(null);
    }
  };

  const chosen = typeof view === 'number' ? committed[view] ?? committed[0] : committed[0];
  const shown = view === 'local' && local ? fromView(local) : chosen ? fromRecord(chosen) : local ? fromView(local) : null;
  const pct = Math.round((job?.fraction ?? 0) * 100);

  return (
    <Panel id="reproduce" title="Reproduce the paper (Table 5)">
      <p className="repro-intro">
        ResNet-18/34/50 fine-tuned on the target, and ResNet-50 pruned to ResNet-18's MACs with the paper's criteria, each fine-tuned with the same budget. The paper's numbers are on real datasets; ours on SynthReID. Units are never mixed: compare the
        direction of the differences, not the values.
      </p>

      <div className="repro-actions">
        <button type="button" data-testid="repro-run" disabled={running || busy || !ready} onClick={() => void start()}>
          {local && local.notRun > 0 ? 'Resume quick reproduction' : 'Run quick reproduction'}
        </button>
        <label>
          Seeds{' '}
          <select data-testid="repro-seeds" value={seeds} disabled={running} onChange={(e) => setSeeds(Number(e.target.value) === 3 ? 3 : 1)}>
            <option value={1}>1 (quick; verdicts stay inconclusive)</option>
            <option value={3}>3 (spread for the verdicts; about 3× longer)</option>
          </select>
        </label>
        {(committed.length > 0 || local) && (
          <div className="repro-switch" role="radiogroup" aria-label="Results shown">
            {committed.map((r, i) => {
              const regime = regimeOf(r);
              return (
                <label key={i} title={regime.label}>
                  <input
                    type="radio"
                    name="repro-view"
                    data-testid={i === 0 ? 'repro-view-committed' : `repro-view-committed-${regime.id}`}
                    data-regime={regime.id}
                    checked={shown?.kind === 'committed' && shown.regime === regime.id}
                    onChange={() => setView(i)}
                  />{' '}
                  committed run, zoo {regime.id}
                </label>
              );
            })}
            {local && (
              <label>
                <input type="radio" name="repro-view" data-testid="repro-view-local" checked={shown?.kind === 'local'} onChange={() => setView('local')} /> this browser's quick run
              </label>
            )}
          </div>
        )}
      </div>

      {running && (
        <div className="repro-progress" data-testid="repro-progress">
          <div className="job-label">
            <span data-testid="repro-cell">{tick ? `Cell ${tick.cell} of ${tick.cells}` : 'Preparing: models and SynthReID'}</span>
            <span data-testid="repro-eta">{tick ? formatEta(tick.etaSec) : ''}</span>
          </div>
          <div className="job-row">
            <progress max={100} value={pct} aria-label="Quick reproduction" />
            <button type="button" data-testid="repro-cancel" disabled={!job} onClick={() => job?.cancel()}>
              Cancel
            </button>
          </div>
          <div className="job-message">{job?.message}</div>
        </div>
      )}

      {committedError && (
        <p className="repro-error" role="alert" data-testid="repro-committed-error">
          {committedError}
        </p>
      )}

      {shown ? (
        <div className="repro-source" data-testid="repro-source" data-kind={shown.kind} data-regime={shown.regime ?? ''}>
          <strong>{shown.label}</strong>
          <span className="muted"> · {shown.setup}</span>
        </div>
      ) : (
        <p className="muted" data-testid="repro-none">
          No reproduction results yet: none is committed with this build. Run the quick reproduction (about 10 minutes on a laptop CPU; indicative, one seed), or run
          <code> npm run lab -- reproduce --json-out public/reproduction.json</code> for the full one.
        </p>
      )}

      {shown && shown.preconditions.length > 0 && <Preconditions items={shown.preconditions} />}
      {shown && <Verdicts verdicts={shown.verdicts} preconditions={shown.preconditions} />}

      <div className="repro-tables">
        <PaperTable />
        {shown && <LabTable shown={shown} />}
      </div>
      <p className="muted repro-footnote">Paper: {PAPER_TABLE5_SOURCE}</p>
      {shown && shown.notes.length > 0 && (
        <ul className="repro-notes" data-testid="repro-notes">
          {shown.notes.map((n, i) => (
            <li key={i}>{n}</li>
          ))}
        </ul>
      )}
    </Panel>
  );
}
