/**
 * The reproduction report: the paper's Table 5 copy equals the reference file, the tables show
 * the paper's numbers exactly as the file writes them, and the verdict rules on hand-made
 * result sets (a 0.8 pp drop holds, 3 pp does not, a spread larger than the difference is
 * inconclusive, one seed is inconclusive), with the statistics checked by hand.
 */
import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { PAPER_CLAIMS, PAPER_TABLE5, PAPER_TABLE5_COLUMNS } from '../../src/engine/scenarios/paper-table5';
import { claimVerdicts, renderComparisonTable, renderCostTable, renderPaperTable, renderReproduction, stat, summarizeRow, verdictBetter, verdictWithin, type RowSummary } from '../../src/engine/scenarios/report';
import { REPRODUCE_ROWS, cellKey, reproduceSettings, selectRows, type ReproduceRow } from '../../src/engine/scenarios/reproduce-plan';
import type { ScenarioResult } from '../../src/engine/scenarios/types';

const REF = path.resolve('../shared/reference/paper-tables.json');
const hasRef = existsSync(REF);

describe('the paper table copy', () => {
  it.skipIf(!hasRef)('equals shared/reference/paper-tables.json (rows, columns, claims)', () => {
    const ref = JSON.parse(readFileSync(REF, 'utf8')) as { columns: string[]; table5: unknown[][]; claims: string[] };
    expect([...PAPER_TABLE5_COLUMNS]).toEqual(ref.columns);
    expect(PAPER_TABLE5.map((r) => [...r])).toEqual(ref.table5);
    expect([...PAPER_CLAIMS]).toEqual(ref.claims);
  });

  it.skipIf(!hasRef)('renders every number exactly as the reference file writes it', () => {
    const text = readFileSync(REF, 'utf8');
    const table = renderPaperTable();
    const rows = [...text.matchAll(/\["(\w+)",\s*([^\]]+)\]/g)].filter((m) => PAPER_TABLE5.some((r) => r[0] === m[1]));
    expect(rows).toHaveLength(PAPER_TABLE5.length);
    for (const m of rows) {
      const raw = m[2].split(',').map((s) => s.trim());
      const line = table.split('\n').find((l) => l.startsWith(`| ${m[1]} |`))!;
      expect(line).toBe(`| ${m[1]} | ${raw.join(' | ')} |`);
    }
    // The side-by-side table shows the Market columns as written, units labelled apart from ours.
    const side = renderComparisonTable(REPRODUCE_ROWS.map((r) => summarizeRow(r, [])));
    for (const m of rows) {
      const raw = m[2].split(',').map((s) => s.trim());
      const line = side.split('\n').find((l) => l.includes(`(${m[1]})`))!;
      expect(line).toContain(`| ${raw.slice(0, 4).join(' | ')} |`);
    }
    expect(side).toContain("Paper: GFLOPs (paper's count)");
    expect(side).toContain('Lab: MACs');
  });
});

describe('statistics', () => {
  it('mean and sample standard deviation, by hand', () => {
    const s = stat([80, 82, 84]);
    expect(s.mean).toBe(82);
    expect(s.std).toBeCloseTo(2, 12); // sqrt((4 + 0 + 4) / 2)
    expect(stat([5]).std).toBe(0);
  });
});

const S = (mean: number, std: number, n = 3) => ({ mean, std, n });

describe('verdict rules', () => {
  it('within 1 pp: a 0.8 pp drop holds, 3 pp does not, a wide spread is inconclusive', () => {
    expect(verdictWithin(S(85, 0.1), S(84.2, 0.1)).verdict).toBe('holds');
    expect(verdictWithin(S(85, 0.1), S(82, 0.1)).verdict).toBe('does not hold');
    const v = verdictWithin(S(85, 1.5), S(84.2, 1.5));
    expect(v.verdict).toBe('inconclusive');
    expect(v.spread).toBeCloseTo(Math.sqrt(2 * 1.5 * 1.5), 12);
    expect(v.difference).toBeCloseTo(0.8, 12);
    expect(v.reason).toContain('spread larger than difference');
    // A pruned model better than the dense one is within the margin too.
    expect(verdictWithin(S(85, 0.2), S(86, 0.2)).verdict).toBe('holds');
  });

  it('better: a clear lead holds, a clear deficit does not, a lead inside the spread is inconclusive', () => {
    expect(verdictBetter(S(84, 0.5), S(81, 0.5)).verdict).toBe('holds');
    expect(verdictBetter(S(79, 0.5), S(81, 0.5)).verdict).toBe('does not hold');
    expect(verdictBetter(S(81.5, 1), S(81, 1)).verdict).toBe('inconclusive');
  });

  it('one seed: the spread is unknown, so inconclusive, and said so', () => {
    const v = verdictBetter(S(90, 0, 1), S(70, 0, 1));
    expect(v.verdict).toBe('inconclusive');
    expect(v.reason).toMatch(/only 1 seed per row/);
  });
});

function result(rank1s: number[], macs: number, extra: Partial<ScenarioResult> = {}): ScenarioResult[] {
  return rank1s.map((r1, i) => ({
    scenario: 'finetune-only',
    scenarioNumber: 4,
    seed: i + 1,
    config: { scenario: 'finetune-only', budget: { steps: 1, p: 2, k: 2, lr: 1 }, seed: i + 1 },
    steps: [],
    imagesSeen: 4,
    trainSteps: 1,
    trainingIdentities: [],
    before: { macs, params: 1, mAP: 0.1, rank1: 0.2, rank5: 0.3 },
    after: { macs, params: 1, mAP: r1 / 200, rank1: r1 / 100, rank5: Math.min(1, r1 / 100 + 0.05) },
    timingsMs: { total: 1000, training: 0, pruning: 0, evaluation: 0 },
    ...extra,
  }));
}

const row = (id: string): ReproduceRow => REPRODUCE_ROWS.find((r) => r.id === id)!;

describe('claim verdicts on hand-made result sets', () => {
  const base: RowSummary[] = [
    summarizeRow(row('resnet50'), result([85, 85.05, 84.95], 258e6)),
    summarizeRow(row('resnet18'), result([80, 80.3, 79.7], 129e6)),
    // Hao Li: 0.8 pp below ResNet-50, 4.2 pp above ResNet-18, at ResNet-18's cost.
    summarizeRow(row('haoli'), result([84.2, 84.3, 84.1], 129.5e6)),
    // Molchanov on target vs at source: inside the spread.
    summarizeRow(row('molchanov'), result([83, 85, 81], 129e6)),
    summarizeRow(row('molchanov-source'), result([82.5, 84.5, 80.5], 129e6)),
  ];

  it('claim 1 holds, claim 2 holds, claim 3 is inconclusive; every available comparison is listed', () => {
    const v = claimVerdicts(base);
    expect(v.map((c) => c.verdict)).toEqual(['holds', 'holds', 'inconclusive']);
    expect(v[0].evidence.some((e) => e.startsWith('Hao Li (l1)') && e.includes('holds'))).toBe(true);
    // Molchanov's 2 pp drop with a 2 pp std is inconclusive for claim 1, listed but not the headline.
    expect(v[0].evidence.find((e) => e.startsWith('Molchanov (Taylor)'))).toContain('inconclusive');
    expect(v[2].evidence.find((e) => e.startsWith('Hao Li'))).toContain('not run');
  });

  it('a 3 pp drop does not hold; a pruned model below ResNet-18 does not beat it; unequal cost is not a fair comparison', () => {
    const worse = base.map((s) => (s.row.id === 'haoli' ? summarizeRow(row('haoli'), result([82, 82.1, 81.9], 129e6)) : s));
    expect(claimVerdicts(worse)[0].verdict).toBe('does not hold');
    const below = base.map((s) => (s.row.id === 'haoli' ? summarizeRow(row('haoli'), result([78, 78.1, 77.9], 129e6)) : s));
    expect(claimVerdicts(below)[1].verdict).toBe('does not hold');
    const costly = base.map((s) => (s.row.id === 'haoli' ? summarizeRow(row('haoli'), result([84.2, 84.3, 84.1], 160e6)) : s));
    const c2 = claimVerdicts(costly)[1];
    expect(c2.verdict).toBe('inconclusive');
    expect(c2.evidence[0]).toMatch(/not equal/);
  });

  it('missing rows give inconclusive verdicts that say what was not run', () => {
    const v = claimVerdicts([]);
    expect(v.map((c) => c.verdict)).toEqual(['inconclusive', 'inconclusive', 'inconclusive']);
    expect(v[0].evidence[0]).toMatch(/not run/);
  });

  it('the report has the verdicts, the side-by-side table and the paper table', () => {
    const md = renderReproduction(base, { command: 'npm run lab -- reproduce', date: '2025-01-01', machine: 'test', wallSeconds: 60, setup: ['setup line'] });
    expect(md).toContain('### Claim 1: HOLDS');
    expect(md).toContain('### Claim 3: INCONCLUSIVE');
    expect(md).toContain('| ResNet50 | 23.48 | 6.32 | 69.16 | 85.07 |');
    // Our numbers: mean ± std in %, e.g. Hao Li's rank-1 84.2 ± 0.1.
    expect(md).toContain('84.2 ± 0.1');
    expect(md).toContain('- setup line');
    // Without charts there is no Charts section; with them, one image line per chart, in order.
    expect(md).not.toContain('## Charts');
    const charts = [{ title: 'Rank-1 vs MACs', path: 'reproduction/rank1-vs-macs.png' }, { title: 'Paper', path: 'reproduction/paper.png' }];
    const withCharts = renderReproduction(base, { command: 'c', date: '2025-01-01', machine: 'test', wallSeconds: 60, setup: [], charts });
    const images = [...withCharts.matchAll(/!\[([^\]]+)\]\(([^)]+)\)/g)].map((m) => [m[1], m[2]]);
    expect(images).toEqual([['Rank-1 vs MACs', 'reproduction/rank1-vs-macs.png'], ['Paper', 'reproduction/paper.png']]);
    expect(withCharts.indexOf('## Charts')).toBeLessThan(withCharts.indexOf('## Table 5, side by side'));
    // Without commands there is no Commands section; without a reading, no Reading section.
    expect(md).not.toContain('## Commands');
    expect(md).not.toContain('## Reading these results');
    const read = renderReproduction(base, { command: 'c', date: '2025-01-01', machine: 'test', wallSeconds: 60, setup: [], reading: '\nThe dense model starts behind.\n\n' });
    expect(read).toContain('## Reading these results\n\nThe dense model starts behind.\n\n## Table 5');
    expect(read.indexOf('## Reading these results')).toBeGreaterThan(read.indexOf('### Claim 3'));
  });

  it('the cost table gives minutes per cell by row and the total; commands are listed with their comments', () => {
    // ResNet-50 cells of 60, 120 and 180 s: mean 2.0 min, sample std 1.0 min, 6.0 min in all.
    const timed = [
      summarizeRow(row('resnet50'), result([85, 85, 85], 258e6).map((r, i) => ({ ...r, timingsMs: { ...r.timingsMs, total: 60_000 * (i + 1) } }))),
      summarizeRow(row('resnet18'), result([80], 129e6).map((r) => ({ ...r, timingsMs: { ...r.timingsMs, total: 30_000 } }))),
      summarizeRow(row('haoli'), []),
    ];
    const table = renderCostTable(timed).split('\n');
    expect(table.slice(2)).toEqual(['| ResNet-50 | 3 | 2.0 ± 1.0 | 6.0 |', '| ResNet-18 | 1 | 0.5 | 0.5 |', '| All | 4 | | 6.5 |']);
    const md = renderReproduction(timed, { command: 'c', date: '2025-01-01', machine: 'test', wallSeconds: 1, setup: [], commands: [{ comment: 'the full run', command: 'npm run lab -- reproduce --seeds 3' }] });
    expect(md).toContain('## Cost of the run');
    expect(md).toContain('```sh\n# the full run\nnpm run lab -- reproduce --seeds 3\n```');
  });
});

describe('reproduce plan', () => {
  it('quick runs fewer rows and seeds; full runs at least 3 seeds', () => {
    expect(reproduceSettings({ quick: false }).seeds).toEqual([1, 2, 3]);
    expect(reproduceSettings({ quick: true }).seeds).toEqual([1]);
    expect(selectRows(true).length).toBeLessThan(selectRows(false).length);
    // Quick still covers one comparison per claim.
    const ids = selectRows(true).map((r) => r.id);
    for (const id of ['resnet50', 'resnet18', 'haoli', 'molchanov', 'molchanov-source']) expect(ids).toContain(id);
  });

  it('cache keys change with anything that changes a result, not with unrelated settings', () => {
    const s = reproduceSettings({ quick: true });
    const r = row('haoli');
    const k = cellKey(r, 1, s, 'abc', 0.5).key;
    expect(cellKey(r, 1, { ...s, seeds: [1, 2, 3], quick: false }, 'abc', 0.5).key).toBe(k);
    expect(cellKey(r, 2, s, 'abc', 0.5).key).not.toBe(k);
    expect(cellKey(r, 1, s, 'abd', 0.5).key).not.toBe(k);
    expect(cellKey(r, 1, { ...s, budget: { ...s.budget, steps: 9 } }, 'abc', 0.5).key).not.toBe(k);
    expect(cellKey(r, 1, s, 'abc', 0.51).key).not.toBe(k);
  });
});
