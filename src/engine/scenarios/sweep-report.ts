/**
 * The recovery budget sweep: the headline rows (dense ResNet-50, Hao Li, Molchanov; scenario 2)
 * fine-tuned with several budgets, to see whether "within 1% rank-1" is a matter of budget. At
 * each budget the pruned rows are judged against the dense row of the same budget, with the
 * verdict rule of report.ts.
 */
import { verdictWithin, type RowSummary, type Stat, type Verdict } from './report';
import type { SweepPoint } from './reproduction-json';

export const SWEEP_ROW_IDS: readonly string[] = ['resnet50', 'haoli', 'molchanov'];

/** Every budget's point, the main run's included, in ascending steps; rows restricted to the sweep's. */
export function sweepPoints(mainSteps: number, mainRows: readonly RowSummary[], sweep: readonly SweepPoint[]): SweepPoint[] {
  const pick = (rows: readonly RowSummary[]) => SWEEP_ROW_IDS.map((id) => rows.find((r) => r.row.id === id)).filter((r): r is RowSummary => !!r);
  const all = [{ steps: mainSteps, rows: pick(mainRows) }, ...sweep.filter((p) => p.steps !== mainSteps).map((p) => ({ steps: p.steps, rows: pick(p.rows) }))];
  return all.sort((a, b) => a.steps - b.steps);
}

/** At one budget: each pruned row against the dense row, "rank-1 drop at most 1 pp". */
export function sweepVerdicts(point: SweepPoint): { row: RowSummary; verdict: Verdict }[] {
  const dense = point.rows.find((r) => r.row.id === 'resnet50' && r.n > 0);
  if (!dense) return [];
  return point.rows.filter((r) => r.row.id !== 'resnet50' && r.n > 0).map((row) => ({ row, verdict: verdictWithin(dense.after.rank1, row.after.rank1, 1) }));
}

const cell = (s: Stat | undefined) => (!s || s.n === 0 || Number.isNaN(s.mean) ? '—' : `${s.mean.toFixed(1)}${s.n > 1 ? ` ± ${s.std.toFixed(1)}` : ''} (n = ${s.n})`);

export function renderSweep(points: readonly SweepPoint[], p: number, k: number): string {
  const lines = [`| Row | ${points.map((x) => `${x.steps} steps (${(x.steps * p * k).toLocaleString('en-US')} images)`).join(' | ')} |`, `|---|${points.map(() => '---:').join('|')}|`];
  for (const id of SWEEP_ROW_IDS) {
    const label = points.flatMap((x) => x.rows).find((r) => r.row.id === id)?.row.label ?? id;
    lines.push(`| ${label}, rank-1 after fine-tuning | ${points.map((x) => cell(x.rows.find((r) => r.row.id === id)?.after.rank1)).join(' | ')} |`);
  }
  const verdicts = points.map((x) => sweepVerdicts(x));
  for (const id of SWEEP_ROW_IDS.slice(1)) {
    const label = points.flatMap((x) => x.rows).find((r) => r.row.id === id)?.row.label ?? id;
    lines.push(`| ${label}: within 1 pp of dense? | ${verdicts.map((vs) => vs.find((v) => v.row.row.id === id)?.verdict).map((v) => (v ? `${v.verdict} (drop ${v.difference.toFixed(2)} pp)` : '—')).join(' | ')} |`);
  }
  return lines.join('\n');
}

/**
 * The sweep's cells for the report's cost table, each row labelled with its budget ("Hao Li (l1),
 * 300 steps"); a budget equal to the main run's is the main table's and is left out.
 */
export function sweepCostRows(mainSteps: number, sweep: readonly SweepPoint[]): RowSummary[] {
  return sweep
    .filter((p) => p.steps !== mainSteps)
    .sort((a, b) => a.steps - b.steps)
    .flatMap((p) => p.rows.map((r) => ({ ...r, row: { ...r.row, label: `${r.row.label}, ${p.steps} steps` } })));
}
