/**
 * Reproduction v2's reporting: the preconditions (hand-worked cases and the shipped cards'
 * training sizes), the recovery budget sweep, two regimes side by side, and the results file that
 * carries several regimes (read back, and older single-record files still read).
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { isLabError } from '../../src/engine/errors';
import { preconditions, renderPreconditions, restsOn, trainingImagesOf } from '../../src/engine/scenarios/preconditions';
import { REPRODUCE_ROWS } from '../../src/engine/scenarios/reproduce-plan';
import type { CutResult } from '../../src/engine/scenarios/reproduce';
import { renderReproduction, type RowSummary, type Stat } from '../../src/engine/scenarios/report';
import { REPRODUCTIONS_FORMAT, parseReproduction, parseReproductions, reproductionToJson, reproductionsToJson, type ReproductionRecord } from '../../src/engine/scenarios/reproduction-json';
import { renderSweep, sweepCostRows, sweepPoints, sweepVerdicts } from '../../src/engine/scenarios/sweep-report';
import { renderRegimes } from '../../src/engine/scenarios/regime-report';
import { CHART_WIDTH, EM_PER_CHAR, regimesChart, sweepChart } from '../../src/engine/scenarios/reproduction-charts';
import { elements, handMadeRecord, tagsBalanced, translate, axis } from './reproduction-charts-fixtures';

const S = (mean: number, std: number, n: number): Stat => ({ mean, std, n });

/** A row summary with rank-1 after fine-tuning `r1` ± `sd` over `n` seeds, and rank-1 before `before`. */
function rs(id: string, n: number, r1: number, sd: number, before = 10, macs = 1e8): RowSummary {
  const row = REPRODUCE_ROWS.find((r) => r.id === id)!;
  return {
    row,
    n,
    macs: S(macs, 0, n),
    params: S(1e6, 0, n),
    before: { rank1: S(before, 0, n), mAP: S(before / 2, 0, n) },
    after: { rank1: S(r1, sd, n), mAP: S(r1 / 2, sd, n), rank5: S(r1 + 5, sd, n) },
    imagesSeen: Array.from({ length: n }, () => 3200),
    seconds: S(60, 0, n),
  };
}

const snap = (rank1: number, macs: number) => ({ macs, params: 1, mAP: rank1 / 2, rank1, rank5: rank1 });

describe('preconditions', () => {
  it('"the larger dense model is stronger": held, failed or not known by the verdict rule, with the numbers', () => {
    // 40 ± 1 vs 35 ± 1 (n = 3): ahead by 5, spread sqrt(2) = 1.41 → held.
    const held = preconditions({ rows: [rs('resnet50', 3, 40, 1, 20), rs('resnet18', 3, 35, 1, 25)], cuts: [], trainingImages: {}, fineTuneImages: 3200 });
    const p = held.find((x) => x.id === 'resnet50-stronger')!;
    expect(p.status).toBe('held');
    expect(p.claims).toEqual([1, 2]);
    expect(p.evidence[0]).toContain('rank-1 20.0 vs 25.0 (behind by 5.0 pp)');
    expect(p.evidence[1]).toContain('ahead by 5.00 pp, more than the spread of 1.41 pp');
    // 30 vs 35: behind by 5 → failed; 35.5 vs 35: within the spread → not known.
    expect(preconditions({ rows: [rs('resnet50', 3, 30, 1), rs('resnet18', 3, 35, 1)], cuts: [], trainingImages: {}, fineTuneImages: 1 })[0].status).toBe('failed');
    expect(preconditions({ rows: [rs('resnet50', 3, 35.5, 1), rs('resnet18', 3, 35, 1)], cuts: [], trainingImages: {}, fineTuneImages: 1 })[0].status).toBe('unknown');
    expect(preconditions({ rows: [rs('resnet18', 3, 35, 1)], cuts: [], trainingImages: {}, fineTuneImages: 1 })[0].status).toBe('unknown');
  });

  it('the ResNet-34 pair appears only when a pruned ResNet-34 row ran, and claim 2 rests on it', () => {
    const rows = [rs('resnet50', 3, 30, 1), rs('resnet34', 3, 33, 0.5), rs('resnet18', 3, 35, 1)];
    expect(preconditions({ rows, cuts: [], trainingImages: {}, fineTuneImages: 1 }).map((p) => p.id)).not.toContain('resnet34-stronger');
    const all = preconditions({ rows: [...rows, rs('haoli-r34', 3, 31, 1)], cuts: [], trainingImages: {}, fineTuneImages: 1 });
    const r34 = all.find((p) => p.id === 'resnet34-stronger')!;
    expect(r34.status).toBe('failed'); // behind by 2, spread sqrt(0.25 + 1) = 1.12
    expect(restsOn(all, 2)).toContain('Dense ResNet-34 is stronger than dense ResNet-18 on the target (rank-1 after the same fine-tuning) (failed)');
    expect(restsOn(all, 1)).not.toContain('ResNet-34');
    expect(restsOn(all, 3)).toContain('fine-tuning budget');
  });

  it('the cut alone and the budget are stated with their numbers', () => {
    const cuts: CutResult[] = [{ rowId: 'haoli', label: 'Hao Li (l1)', depth: 50, seed: 1, dense: snap(0.5, 400), cut: snap(0.125, 200) }];
    const all = preconditions({ rows: [], cuts, trainingImages: { 50: 448_000, 18: 64_000 }, fineTuneImages: 3200 });
    const cut = all.find((p) => p.id === 'cut-drop')!;
    expect(cut.status).toBe('stated');
    expect(cut.evidence[0]).toContain('ResNet-50 rank-1 50.0 → 12.5 (mAP 25.0 → 6.3) at 50.0% of its MACs');
    const budget = all.find((p) => p.id === 'budget')!;
    // 3,200 / 64,000 = 5.00 %; 3,200 / 448,000 = 0.71 %.
    expect(budget.evidence[0]).toBe('Every cell fine-tunes on 3,200 images; the zoo models were trained on: ResNet-18 64,000 (5.00%), ResNet-50 448,000 (0.71%).');
    expect(renderPreconditions(all)).toContain("- **How far the cut alone (pruning to ResNet-18's MACs, no fine-tuning) drops accuracy.** MEASURED (no pass or fail");
  });

  it("training images from the shipped cards: v1's lab trainer and v2's companion phases", () => {
    const card = (name: string) => JSON.parse(readFileSync(`public/models/${name}/card.json`, 'utf8')) as unknown;
    // v1: 2,000 steps of P=8 x K=4.
    expect(trainingImagesOf(card('resnet50-w0.5'))).toBe(2000 * 32);
    // v2: pool pre-training 4,000 steps + M source 3,000 steps, both P=16 x K=4 (docs/ZOO.md).
    expect(trainingImagesOf(card('resnet50-w0.5-v2'))).toBe((4000 + 3000) * 64);
    expect(trainingImagesOf({})).toBeUndefined();
    expect(trainingImagesOf({ training: { phases: [{ steps: 10, config: {} }] } })).toBeUndefined();
  });
});

describe('recovery budget sweep', () => {
  const main = [rs('resnet50', 3, 30, 1), rs('resnet18', 3, 35, 1), rs('haoli', 3, 25, 1), rs('molchanov', 3, 24, 1)];
  const sweep = [
    { steps: 1000, rows: [rs('resnet50', 1, 40, 0), rs('haoli', 1, 39.5, 0), rs('molchanov', 1, 38, 0)] },
    { steps: 300, rows: [rs('resnet50', 3, 35, 0.1), rs('haoli', 3, 34.8, 0.1), rs('molchanov', 3, 31, 0.1)] },
  ];

  it('orders the budgets, keeps only the headline rows, and judges each budget against its own dense row', () => {
    const points = sweepPoints(100, main, sweep);
    expect(points.map((p) => p.steps)).toEqual([100, 300, 1000]);
    expect(points[0].rows.map((r) => r.row.id)).toEqual(['resnet50', 'haoli', 'molchanov']);
    // 300 steps: Hao Li drops 0.2 with spread 0.14 → 0.34 <= 1 holds; Molchanov drops 4 → does not hold.
    const v300 = sweepVerdicts(points[1]);
    expect(v300.map((v) => [v.row.row.id, v.verdict.verdict])).toEqual([['haoli', 'holds'], ['molchanov', 'does not hold']]);
    expect(v300[0].verdict.difference).toBeCloseTo(0.2, 10);
    // 1,000 steps at one seed: the spread is unknown → inconclusive.
    expect(sweepVerdicts(points[2]).every((v) => v.verdict.verdict === 'inconclusive')).toBe(true);
    const md = renderSweep(points, 8, 4);
    expect(md).toContain('| 100 steps (3,200 images) | 300 steps (9,600 images) | 1000 steps (32,000 images) |');
    expect(md).toContain('| Hao Li (l1): within 1 pp of dense? | does not hold (drop 5.00 pp) | holds (drop 0.20 pp) | inconclusive (drop 0.50 pp) |');
  });

  it('puts the sweep cells in the cost table, each row under its budget, and counts them in the total', () => {
    // A point at the main run's budget is the main table itself and is not counted twice.
    const rows = sweepCostRows(100, [...sweep, { steps: 100, rows: main }]);
    expect(rows.map((r) => r.row.label)).toEqual([
      'ResNet-50, 300 steps', 'Hao Li (l1), 300 steps', 'Molchanov (Taylor), 300 steps',
      'ResNet-50, 1000 steps', 'Hao Li (l1), 1000 steps', 'Molchanov (Taylor), 1000 steps',
    ]);
    // The rows of the input are not relabelled.
    expect(sweep[1].rows[1].row.label).toBe('Hao Li (l1)');
    // Every cell took 60 s: the main table's 12 cells plus the sweep's 9 + 3 = 24 cells, 24 min.
    const md = renderReproduction(main, { command: 'c', date: '2025-01-01', machine: 'test', wallSeconds: 1, setup: [], costRows: rows });
    expect(md).toContain('| Hao Li (l1), 300 steps | 3 | 1.0 ± 0.0 | 3.0 |');
    expect(md).toContain('| Molchanov (Taylor), 1000 steps | 1 | 1.0 | 1.0 |');
    expect(md).toContain('| All | 24 | | 24.0 |');
  });

  it('draws one point per row and budget, with the dense − 1 pp line of each budget', () => {
    const rec: ReproductionRecord = { ...handMadeRecord([]), rows: main, sweep };
    const c = sweepChart(rec);
    expect(tagsBalanced(c.svg)).toBe(true);
    const pts = elements(c.svg, 'g', 'point');
    expect(pts).toHaveLength(9);
    const y = axis(c.svg, 'y');
    for (const p of pts) expect(translate(p)[1]).toBeCloseTo(y.toPixel(Number(p.attrs['data-mean'])), 1);
    const lines = elements(c.svg, 'line', 'claim-line');
    expect(lines.map((l) => [Number(l.attrs['data-steps']), Number(l.attrs['data-value'])])).toEqual([[100, 29], [300, 34], [1000, 39]]);
    // Budgets left to right in ascending steps.
    const xs = (steps: string) => translate(pts.find((p) => p.attrs['data-row'] === 'resnet50' && p.attrs['data-steps'] === steps)!)[0];
    expect(xs('100')).toBeLessThan(xs('300'));
    expect(xs('300')).toBeLessThan(xs('1000'));
  });
});

describe("claim 2's evidence", () => {
  it('lists the pruned ResNet-34 rows against ResNet-18; the headline stays Hao Li on ResNet-50', async () => {
    const { claimVerdicts } = await import('../../src/engine/scenarios/report');
    const rows = [rs('resnet50', 3, 69, 1), rs('resnet18', 3, 71, 0.5, 10, 1e8), rs('haoli', 3, 55, 0.6, 10, 1e8), rs('haoli-r34', 3, 65.5, 0.2, 10, 1e8)];
    const [c1, c2] = claimVerdicts(rows);
    expect(c2.evidence.some((e) => e.startsWith('Hao Li, ResNet-34 pruned: rank-1 65.5 ± 0.2 vs ResNet-18 71.0 ± 0.5') && e.includes('does not hold'))).toBe(true);
    expect(c1.evidence.some((e) => e.includes('ResNet-34 pruned'))).toBe(false);
    expect(c2.verdict).toBe('does not hold');
  });
});

describe('two regimes side by side', () => {
  const v2: ReproductionRecord = { ...handMadeRecord([]), rows: [rs('resnet50', 3, 50, 1), rs('resnet18', 3, 55, 1), rs('haoli', 3, 45, 1)], regime: { id: 'v2', label: 'v2: pre-trained' }, verdicts: [{ claim: 'c1', verdict: 'does not hold', headline: 'h', evidence: [] }] };
  const v1: ReproductionRecord = { ...handMadeRecord([]), date: '2026-12-06', rows: [rs('resnet50', 3, 30, 1), rs('resnet18', 3, 35, 1), rs('haoli', 2, 23, 1)], verdicts: [{ claim: 'c1', verdict: 'inconclusive', headline: 'h', evidence: [] }] };

  it('a table of verdicts and headline rank-1 per regime (a record without a regime is v1)', () => {
    const md = renderRegimes([v2, v1]);
    expect(md).toContain('| | v2 (2025-01-02) | v1 (2026-12-06) |');
    expect(md).toContain('| Claim 1 | does not hold | inconclusive |');
    expect(md).toContain('| ResNet-50, rank-1 after FT | 50.0 ± 1.0 | 30.0 ± 1.0 |');
    expect(md).toContain('| ResNet-34, rank-1 after FT | — | — |');
    // Cells: v2 3 rows x 3 seeds all ran; v1's Hao Li has 2 of 3.
    expect(md).toContain('| Cells run / planned | 9 / 9 | 8 / 9 |');
    // The budget sweep counts too: 300 steps at 3 seeds, ResNet-50 with 3 and Hao Li with 1 → 4 of 6 more.
    const swept = renderRegimes([{ ...v2, sweep: [{ steps: 300, seeds: 3, rows: [rs('resnet50', 3, 52, 1), rs('haoli', 1, 40, 0)] }] }, v1]);
    expect(swept).toContain('| Cells run / planned | 13 / 15 | 8 / 9 |');
    expect(md).toContain('- v2: pre-trained.');
    expect(md).not.toContain('v2: v2:');
  });

  it('one chart: a bar per row and regime at its mean', () => {
    const c = regimesChart([v2, v1]);
    expect(tagsBalanced(c.svg)).toBe(true);
    const bars = elements(c.svg, 'rect', 'bar');
    expect(bars.map((b) => `${b.attrs['data-row']}/${b.attrs['data-regime']}/${b.attrs['data-mean']}`)).toEqual(['resnet50/v2/50', 'resnet50/v1/30', 'resnet18/v2/55', 'resnet18/v1/35', 'haoli/v2/45', 'haoli/v1/23']);
    // Bar tops on the y axis's scale: height is proportional to the mean.
    const h = (i: number) => Number(bars[i].attrs.height);
    expect(h(0) / h(1)).toBeCloseTo(50 / 30, 2);
  });

  it('every row label is whole (no line dropped) and each of its lines fits its bar group, also with all 14 rows', () => {
    const everyRow = REPRODUCE_ROWS.map((r) => rs(r.id, 3, 40, 1));
    const c = regimesChart([{ ...v2, rows: everyRow }, { ...v1, rows: everyRow }]);
    const groupWidth = (CHART_WIDTH - 98) / everyRow.length;
    const labels = elements(c.svg, 'text', 'category-label');
    for (const row of REPRODUCE_ROWS) {
      const lines = labels.filter((l) => l.attrs['data-row'] === row.id);
      expect(lines.map((l) => l.inner).join(' ')).toBe(row.label.replace(/&/g, '&amp;'));
      expect(lines.length).toBeLessThanOrEqual(4);
      for (const l of lines) expect(l.inner.length * Number(l.attrs['font-size']) * EM_PER_CHAR).toBeLessThanOrEqual(groupWidth);
    }
    // One size for every label, 7 px at the least.
    const sizes = new Set(labels.map((l) => l.attrs['font-size']));
    expect(sizes.size).toBe(1);
    expect(Number([...sizes][0])).toBeGreaterThanOrEqual(7);
  });

  it('the results file carries both regimes; a single-record file still reads; bad sets are refused', () => {
    const withExtras: ReproductionRecord = { ...v2, preconditions: preconditions({ rows: v2.rows, cuts: [], trainingImages: { 50: 1000 }, fineTuneImages: 10 }), sweep: [{ steps: 300, rows: [rs('resnet50', 3, 52, 1)] }] };
    const text = reproductionsToJson([withExtras, v1]);
    expect(JSON.parse(text).format).toBe(REPRODUCTIONS_FORMAT);
    const back = parseReproductions(text);
    expect(back.map((r) => r.regime?.id ?? 'v1')).toEqual(['v2', 'v1']);
    expect(back[0].preconditions).toEqual(withExtras.preconditions);
    expect(back[0].sweep![0].steps).toBe(300);
    expect(back[0].sweep![0].rows[0].after.rank1.mean).toBe(52);
    expect(back[1].regime).toBeUndefined();
    // A file from before regimes: one record, read as it was.
    expect(parseReproductions(reproductionToJson(v1))).toHaveLength(1);
    expect(parseReproduction(reproductionToJson(v1)).rows).toHaveLength(3);
    for (const bad of [{ format: REPRODUCTIONS_FORMAT, records: [] }, { format: REPRODUCTIONS_FORMAT, records: [{ format: 'nope' }] }, { ...JSON.parse(reproductionToJson(v2)), preconditions: [{ id: 'x', text: 't', status: 'maybe', evidence: [], claims: [] }] }]) {
      let err: unknown;
      try {
        parseReproductions(JSON.stringify(bad));
      } catch (e) {
        err = e;
      }
      expect(isLabError(err, 'bad-argument')).toBe(true);
    }
  });
});
