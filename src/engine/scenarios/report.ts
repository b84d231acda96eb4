/**
 * The reproduction report: per-row statistics over seeds (mean ± sample std), the comparison
 * table beside the paper's Table 5 (its units next to ours, never mixed), and a verdict with
 * evidence for each of the paper's three claims.
 *
 * Verdict rule (accuracies in percentage points, pp). For a difference d between two rows'
 * means, the spread s is the standard deviation of the difference between one run of each,
 * sqrt(std_a^2 + std_b^2): a deliberately cautious yardstick with few seeds.
 * - "better" claims (claims 2 and 3): holds if d > s; does not hold if d < -s; otherwise
 *   inconclusive (the spread is larger than the difference).
 * - "within a margin" (claim 1, rank-1 drop at most 1 pp): holds if drop + s <= 1; does not
 *   hold if drop - s > 1; otherwise inconclusive.
 * With fewer than two seeds on either side the spread is unknown: inconclusive, said so.
 */
import { formatMacs } from '../cost/macs';
import { PAPER_CLAIMS, PAPER_TABLE5, PAPER_TABLE5_COLUMNS, PAPER_TABLE5_SOURCE, paperNumber, paperRow } from './paper-table5';
import type { ReproduceRow } from './reproduce-plan';
import { SCENARIO_NUMBER, type ScenarioResult } from './types';

export interface Stat {
  mean: number;
  /** Sample standard deviation (n - 1); 0 when n < 2. */
  std: number;
  n: number;
}

export function stat(values: readonly number[]): Stat {
  const n = values.length;
  if (n === 0) return { mean: NaN, std: 0, n: 0 };
  const mean = values.reduce((a, v) => a + v, 0) / n;
  const std = n > 1 ? Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / (n - 1)) : 0;
  return { mean, std, n };
}

export interface RowSummary {
  row: ReproduceRow;
  n: number;
  macs: Stat;
  params: Stat;
  /** Accuracies in percentage points. */
  before: { mAP: Stat; rank1: Stat };
  after: { mAP: Stat; rank1: Stat; rank5: Stat };
  imagesSeen: number[];
  /** Wall time per cell in seconds. */
  seconds: Stat;
}

/** Summarise a row's per-seed results (accuracies converted to percentage points). */
export function summarizeRow(row: ReproduceRow, results: readonly ScenarioResult[]): RowSummary {
  const pp = (f: (r: ScenarioResult) => number) => stat(results.map((r) => 100 * f(r)));
  return {
    row,
    n: results.length,
    macs: stat(results.map((r) => r.after.macs)),
    params: stat(results.map((r) => r.after.params)),
    before: { mAP: pp((r) => r.before.mAP), rank1: pp((r) => r.before.rank1) },
    after: { mAP: pp((r) => r.after.mAP), rank1: pp((r) => r.after.rank1), rank5: pp((r) => r.after.rank5) },
    imagesSeen: results.map((r) => r.imagesSeen),
    seconds: stat(results.map((r) => r.timingsMs.total / 1000)),
  };
}

export type VerdictKind = 'holds' | 'does not hold' | 'inconclusive';

export interface Verdict {
  verdict: VerdictKind;
  /** The difference the verdict is about, in pp (see the functions). */
  difference: number;
  spread: number;
  reason: string;
}

const f2 = (v: number) => v.toFixed(2);

function spreadOf(a: Stat, b: Stat): number {
  return Math.sqrt(a.std * a.std + b.std * b.std);
}

function fewSeeds(a: Stat, b: Stat, difference: number): Verdict | undefined {
  if (a.n >= 2 && b.n >= 2) return undefined;
  return { verdict: 'inconclusive', difference, spread: NaN, reason: `${a.n < 2 && b.n < 2 ? 'only 1 seed per row' : 'only 1 seed on one side'}, so the spread across seeds is unknown; difference ${f2(difference)} pp` };
}

/** Is `better` better than `worse`? d = better.mean - worse.mean (pp). */
export function verdictBetter(better: Stat, worse: Stat): Verdict {
  const d = better.mean - worse.mean;
  const few = fewSeeds(better, worse, d);
  if (few) return few;
  const s = spreadOf(better, worse);
  if (d > s) return { verdict: 'holds', difference: d, spread: s, reason: `ahead by ${f2(d)} pp, more than the spread of ${f2(s)} pp` };
  if (d < -s) return { verdict: 'does not hold', difference: d, spread: s, reason: `behind by ${f2(-d)} pp, more than the spread of ${f2(s)} pp` };
  return { verdict: 'inconclusive', difference: d, spread: s, reason: `difference ${f2(d)} pp, within the spread of ${f2(s)} pp: spread larger than difference` };
}

/** Does `test` stay within `margin` pp below `base`? d = base.mean - test.mean (the drop). */
export function verdictWithin(base: Stat, test: Stat, margin = 1): Verdict {
  const drop = base.mean - test.mean;
  const few = fewSeeds(base, test, drop);
  if (few) return few;
  const s = spreadOf(base, test);
  const what = drop >= 0 ? `drop of ${f2(drop)} pp` : `gain of ${f2(-drop)} pp`;
  if (drop + s <= margin) return { verdict: 'holds', difference: drop, spread: s, reason: `${what}, within ${margin} pp even allowing the spread of ${f2(s)} pp` };
  if (drop - s > margin) return { verdict: 'does not hold', difference: drop, spread: s, reason: `${what}, more than ${margin} pp even allowing the spread of ${f2(s)} pp` };
  return { verdict: 'inconclusive', difference: drop, spread: s, reason: `${what}; the spread of ${f2(s)} pp is larger than its distance to the ${margin} pp margin: spread larger than difference` };
}

export interface ClaimVerdict {
  claim: string;
  verdict: VerdictKind;
  /** The comparison the verdict is taken from, named before the results were seen. */
  headline: string;
  evidence: string[];
}

const pm = (s: Stat, digits = 1) => (Number.isNaN(s.mean) ? '—' : s.n > 1 ? `${s.mean.toFixed(digits)} ± ${s.std.toFixed(digits)}` : s.mean.toFixed(digits));

function find(rows: readonly RowSummary[], id: string): RowSummary | undefined {
  const r = rows.find((x) => x.row.id === id);
  return r && r.n > 0 ? r : undefined;
}

const PRUNED_IDS = ['haoli', 'molchanov', 'autobalanced', 'entropy', 'psfp', 'fpgm', 'cop'];

function notRun(what: string): ClaimVerdict['evidence'][number] {
  return `${what}: not run, so no evidence.`;
}

/**
 * The three claims' verdicts. Headlines, fixed in advance: claim 1 and 2 take Hao Li (l1, the
 * paper's best pruned row); claim 3 takes Molchanov (Taylor), whose scores depend on the data,
 * so the pruning domain matters to it. Every other available comparison is listed as evidence.
 */
export function claimVerdicts(rows: readonly RowSummary[], costTolerance = 0.02): ClaimVerdict[] {
  const out: ClaimVerdict[] = [];
  const r50 = find(rows, 'resnet50');
  const r18 = find(rows, 'resnet18');
  const pruned = PRUNED_IDS.map((id) => find(rows, id)).filter((r): r is RowSummary => !!r);

  // Claim 1: half the cost within 1 pp rank-1 of the dense model, both fine-tuned alike.
  {
    const evidence: string[] = [];
    let headline: Verdict | undefined;
    if (!r50) evidence.push(notRun('ResNet-50 fine-tuned (the reference)'));
    else {
      for (const p of pruned) {
        const v = verdictWithin(r50.after.rank1, p.after.rank1, 1);
        const cost = p.macs.mean / r50.macs.mean;
        evidence.push(`${p.row.label}: rank-1 ${pm(p.after.rank1)} vs ResNet-50 ${pm(r50.after.rank1)} at ${(100 * cost).toFixed(1)}% of its MACs: ${v.verdict} (${v.reason}).`);
        if (p.row.id === 'haoli') headline = v;
      }
      if (pruned.length === 0) evidence.push(notRun('pruned ResNet-50 rows'));
    }
    out.push({ claim: PAPER_CLAIMS[0], verdict: headline?.verdict ?? 'inconclusive', headline: 'Hao Li (l1) pruned ResNet-50 vs dense ResNet-50, rank-1 drop at most 1 pp', evidence });
  }

  // Claim 2: pruned ResNet-50 at ResNet-18's cost beats ResNet-18, same fine-tuning.
  {
    const evidence: string[] = [];
    let headline: Verdict | undefined;
    if (!r18) evidence.push(notRun('ResNet-18 fine-tuned (the small baseline)'));
    else {
      // Also the pruned ResNet-34 rows (zoo v2's plan): a second large network at the same cost.
      for (const p of [...pruned, ...['haoli-r34', 'molchanov-r34'].map((id) => find(rows, id)).filter((r): r is RowSummary => !!r)]) {
        const cost = p.macs.mean / r18.macs.mean;
        let v = verdictBetter(p.after.rank1, r18.after.rank1);
        if (Math.abs(cost - 1) > costTolerance) v = { ...v, verdict: 'inconclusive', reason: `${v.reason}; but its cost is ${(100 * cost).toFixed(1)}% of ResNet-18's, not equal` };
        evidence.push(`${p.row.label}: rank-1 ${pm(p.after.rank1)} vs ResNet-18 ${pm(r18.after.rank1)} at ${(100 * cost).toFixed(1)}% of ResNet-18's MACs: ${v.verdict} (${v.reason}).`);
        if (p.row.id === 'haoli') headline = v;
      }
      if (pruned.length === 0) evidence.push(notRun('pruned ResNet-50 rows'));
    }
    out.push({ claim: PAPER_CLAIMS[1], verdict: headline?.verdict ?? 'inconclusive', headline: 'Hao Li (l1) pruned ResNet-50 vs ResNet-18 at equal MACs, rank-1', evidence });
  }

  // Claim 3: prune and fine-tune in the same domain: scenario 2 (target) beats scenario 1 (source).
  {
    const evidence: string[] = [];
    let headline: Verdict | undefined;
    for (const [same, other] of [['molchanov', 'molchanov-source'], ['haoli', 'haoli-source']] as const) {
      const a = find(rows, same);
      const b = find(rows, other);
      if (!a || !b) {
        evidence.push(notRun(`${a?.row.label ?? b?.row.label ?? same}: scenario 2 vs scenario 1 pair`));
        continue;
      }
      const v = verdictBetter(a.after.rank1, b.after.rank1);
      evidence.push(`${a.row.label}: pruned on the target (scenario 2) rank-1 ${pm(a.after.rank1)} vs pruned at the source (scenario 1) ${pm(b.after.rank1)}: ${v.verdict} (${v.reason}).`);
      if (same === 'molchanov') headline = v;
    }
    out.push({ claim: PAPER_CLAIMS[2], verdict: headline?.verdict ?? 'inconclusive', headline: 'Molchanov (Taylor): pruned on target data after target fine-tuning (scenario 2) vs pruned on source data (scenario 1), rank-1', evidence });
  }
  return out;
}

export interface ReportMeta {
  command: string;
  date: string;
  machine: string;
  wallSeconds: number;
  setup: string[];
  notes?: string[];
  /** Chart images to show (paths relative to the report), e.g. from reproduction-charts.ts. */
  charts?: { title: string; path: string }[];
  /** The authors' reading of the results (Markdown, shown after the verdicts), e.g. from --preface. */
  reading?: string;
  /** Commands that make (or continue) these results, each with a one-line comment. */
  commands?: { comment: string; command: string }[];
  /** Said under the title when not every planned cell has run (a partial report must not read as complete). */
  status?: string;
  /** The plan as fixed before the run (Markdown, its first heading dropped), shown before the setup. */
  plan?: string;
  /** The regime's one-line label (which zoo, which source), shown under the title. */
  regime?: string;
  /** The preconditions section (Markdown, preconditions.ts) and, per claim, what it rests on. */
  preconditions?: { markdown: string; restsOn: string[] };
  /** More sections after the verdicts (the budget sweep, the regimes side by side). */
  sections?: { title: string; body: string }[];
  /** Cells outside the main table (the budget sweep's), added to the cost table under their own labels. */
  costRows?: RowSummary[];
}

/** Wall time per cell by row (minutes), so a reader can plan a re-run. Rows not run are left out. */
export function renderCostTable(rows: readonly RowSummary[]): string {
  const ran = rows.filter((s) => s.n > 0);
  const min = (sec: number) => (sec / 60).toFixed(1);
  const lines = ['| Row | Cells | Wall per cell (min) | Total (min) |', '|---|---:|---:|---:|'];
  for (const s of ran) {
    const perCell = s.n > 1 ? `${min(s.seconds.mean)} ± ${min(s.seconds.std)}` : min(s.seconds.mean);
    lines.push(`| ${s.row.label} | ${s.n} | ${perCell} | ${min(s.seconds.mean * s.n)} |`);
  }
  const total = ran.reduce((a, s) => a + s.seconds.mean * s.n, 0);
  lines.push(`| All | ${ran.reduce((a, s) => a + s.n, 0)} | | ${min(total)} |`);
  return lines.join('\n');
}

/** The paper's Table 5 exactly as given (all datasets), in its own units. */
export function renderPaperTable(): string {
  const head = ['Network', 'Params (M)', 'GFLOPs (paper\'s count)', 'Market mAP', 'Market R1', 'Duke mAP', 'Duke R1', 'CUHK03-NP mAP', 'CUHK03-NP R1'];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`];
  for (const r of PAPER_TABLE5) lines.push(`| ${r[0]} | ${r.slice(1).map((v) => paperNumber(v as number)).join(' | ')} |`);
  return lines.join('\n');
}

/** The side-by-side table: the paper's Market-1501 numbers next to the lab's SynthReID target numbers. */
export function renderComparisonTable(rows: readonly RowSummary[]): string {
  const head = [
    'Row',
    'Scenario',
    'Paper: params (M)',
    'Paper: GFLOPs (paper\'s count)',
    'Paper: Market mAP',
    'Paper: Market R1',
    'Lab: MACs',
    'Lab: params (M)',
    'Lab: mAP before FT',
    'Lab: R1 before FT',
    'Lab: mAP after FT',
    'Lab: R1 after FT',
    'Lab: R5 after FT',
    'Seeds',
  ];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`];
  for (const s of rows) {
    const p = s.row.paper ? paperRow(s.row.paper) : undefined;
    const paper = p ? [p[1], p[2], p[3], p[4]].map(paperNumber) : ['—', '—', '—', '—'];
    const ran = s.n > 0;
    lines.push(
      `| ${s.row.label}${p ? ` (${p[0]})` : ''} | ${SCENARIO_NUMBER[s.row.scenario]} | ${paper.join(' | ')} | ${ran ? formatMacs(s.macs.mean) : '—'} | ${ran ? (s.params.mean / 1e6).toFixed(2) : '—'} | ${pm(s.before.mAP)} | ${pm(s.before.rank1)} | ${pm(s.after.mAP)} | ${pm(s.after.rank1)} | ${pm(s.after.rank5)} | ${s.n || 'not run'} |`,
    );
  }
  return lines.join('\n');
}

/** The whole report as Markdown (docs/REPRODUCTION.md). */
export function renderReproduction(rows: readonly RowSummary[], meta: ReportMeta): string {
  const verdicts = claimVerdicts(rows);
  const parts: string[] = [];
  parts.push('# Reproducing the paper at lab scale', '');
  if (meta.status) parts.push(`**${meta.status}**`, '');
  if (meta.regime) parts.push(`Regime: ${meta.regime}.`, '');
  parts.push(`Generated by \`${meta.command}\` on ${meta.date} (${meta.machine}; ${(meta.wallSeconds / 60).toFixed(1)} min of new runs). Cached cells were reused.`, '');
  if (meta.plan?.trim()) parts.push('## Plan', '', meta.plan.trim().replace(/^# .*\n+/, '').replace(/^## /gm, '### '), '');
  parts.push('## Setup', '', ...meta.setup.map((l) => `- ${l}`), '');
  if (meta.preconditions) parts.push('## Preconditions', '', 'What the claims rest on, measured before reading any verdict.', '', meta.preconditions.markdown, '');
  parts.push('## Verdicts', '');
  verdicts.forEach((v, i) => {
    const rests = meta.preconditions?.restsOn[i];
    parts.push(`### Claim ${i + 1}: ${v.verdict.toUpperCase()}`, '', `> ${v.claim}`, '', `Headline comparison (chosen in advance): ${v.headline}.`, '', ...(rests ? [`Rests on: ${rests}.`, ''] : []), ...v.evidence.map((e) => `- ${e}`), '');
  });
  for (const sec of meta.sections ?? []) parts.push(`## ${sec.title}`, '', sec.body.trim(), '');
  if (meta.reading?.trim()) parts.push('## Reading these results', '', meta.reading.trim(), '');
  if (meta.charts?.length) {
    parts.push('## Charts', '', 'Our rows on our benchmark; the paper\'s Table 5 on its own axes and units (never the same chart).', '');
    for (const c of meta.charts) parts.push(`![${c.title}](${c.path})`, '');
  }
  parts.push('## Table 5, side by side', '');
  parts.push('Paper columns: Market-1501, as published (GFLOPs in the paper\'s own, unknown convention). Lab columns: SynthReID S target (the operational domain), starting from the zoo models of the regime above; cost in MACs (multiply-accumulates) by the lab\'s counting rules; accuracies in %, mean ± std over seeds. "Before FT" is the zoo model the row starts from, evaluated on the target before any fine-tuning. The two sets of units are never mixed or converted.', '');
  parts.push(renderComparisonTable(rows), '');
  parts.push('Scenarios: 1 = prune at the source, then fine-tune on the target; 2 = fine-tune on the target, prune on the target, fine-tune again; 3 = prune while fine-tuning on the target; 4 = fine-tune on the target without pruning.', '');
  parts.push('## The paper\'s Table 5 as given', '', `Source: ${PAPER_TABLE5_SOURCE}`, '', renderPaperTable(), '');
  parts.push(`Columns of the reference file: ${PAPER_TABLE5_COLUMNS.join(', ')}.`, '');
  parts.push('## How verdicts are decided', '');
  parts.push('Differences are in percentage points of rank-1 between row means. The spread is sqrt(std_a² + std_b²) over seeds (the spread of the difference between one run of each; cautious with few seeds). "Better" holds when the difference exceeds the spread, does not hold when it is below minus the spread, and is inconclusive otherwise. "Within 1%" is read as a rank-1 drop of at most 1 percentage point (the paper: 85.07 → 84.71 for Hao Li); it holds when drop + spread ≤ 1, does not hold when drop − spread > 1. With one seed the spread is unknown and every verdict is inconclusive.', '');
  if (meta.notes?.length) parts.push('## Notes', '', ...meta.notes.map((n) => `- ${n}`), '');
  const costed = [...rows, ...(meta.costRows ?? [])];
  if (costed.some((s) => s.n > 0)) {
    parts.push('## Cost of the run', '', `Wall time per cell (fine-tuning, pruning and evaluation; cached cells keep the time of the run that made them) on ${meta.machine}.`, '', renderCostTable(costed), '');
  }
  if (meta.commands?.length) {
    parts.push('## Commands', '', '```sh', ...meta.commands.flatMap((c) => [`# ${c.comment}`, c.command]), '```', '');
  }
  return parts.join('\n');
}
