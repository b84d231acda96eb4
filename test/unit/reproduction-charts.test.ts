/**
 * The reproduction charts, read back from their SVG: each row's point sits where the printed
 * axis ticks put its mean MACs and mean accuracy, error bars span ±1 std, the 1-pp line sits at
 * dense ResNet-50 − 1, a row that did not run is no point but is named in the footnote, the
 * paper's chart carries Table 5's numbers exactly, and the before/after bars start at 0.
 */
import { describe, expect, it } from 'vitest';
import { PAPER_TABLE5 } from '../../src/engine/scenarios/paper-table5';
import { accuracyVsCostChart, beforeAfterChart, niceTicks, paperChart, reproductionCharts } from '../../src/engine/scenarios/reproduction-charts';
import { parseReproduction, reproductionToJson } from '../../src/engine/scenarios/reproduction-json';
import { REPRODUCE_ROWS } from '../../src/engine/scenarios/reproduce-plan';
import { KNOWN, NOT_RUN_ID, axis, elements, handMadeRecord, tagsBalanced, textOf, translate } from './reproduction-charts-fixtures';

const label = (id: string) => REPRODUCE_ROWS.find((r) => r.id === id)!.label;
// Coordinates are written with 2 decimals.
const PX = 0.011;

describe('nice ticks', () => {
  it('cover the range with steps of 1, 2, 2.5 or 5 × 10^k and print them exactly', () => {
    for (const [lo, hi] of [[0, 351], [64.1, 73.6], [0, 6.67], [40.4, 48.7], [0, 0.0123], [5, 5]]) {
      const t = niceTicks(lo, hi, 6);
      expect(t.lo).toBeLessThanOrEqual(lo);
      expect(t.hi).toBeGreaterThanOrEqual(hi);
      const mantissa = t.step / 10 ** Math.floor(Math.log10(t.step) + 1e-9);
      expect([1, 2, 2.5, 5].some((m) => Math.abs(m - mantissa) < 1e-9)).toBe(true);
      t.values.forEach((v, i) => expect(v).toBeCloseTo(t.lo + i * t.step, 9));
      expect(t.values.length - 1).toBeLessThanOrEqual(6);
    }
  });
});

describe('accuracy vs MACs (the lab benchmark)', () => {
  // Through the JSON file and back: a row that did not run has null means there.
  const record = parseReproduction(reproductionToJson(handMadeRecord()));

  for (const metric of ['rank1', 'mAP'] as const) {
    it(`${metric}: each row that ran is one point at (mean MACs, mean ${metric}) on the printed axes, bars ±1 std`, () => {
      const { svg, name } = accuracyVsCostChart(record, metric);
      expect(name).toBe(metric === 'rank1' ? 'rank1-vs-macs' : 'map-vs-macs');
      expect(tagsBalanced(svg)).toBe(true);
      const x = axis(svg, 'x');
      const y = axis(svg, 'y');
      // Printed ticks are evenly spaced values at evenly spaced pixels (a linear axis).
      x.values.forEach((v, i) => expect(x.pixels[i]).toBeCloseTo(x.toPixel(v), 1));
      y.values.forEach((v, i) => expect(y.pixels[i]).toBeCloseTo(y.toPixel(v), 1));
      expect(y.pxPerUnit).toBeLessThan(0); // up is more accurate

      const points = elements(svg, 'g', 'point');
      expect(points.map((p) => p.attrs['data-row'])).toEqual(['resnet50', 'resnet18', 'haoli']);
      for (const p of points) {
        const k = KNOWN[p.attrs['data-row']];
        const [mean, std] = k.after[metric];
        const [px, py] = translate(p);
        expect(Math.abs(px - x.toPixel(k.macs / 1e6))).toBeLessThan(PX);
        expect(Math.abs(py - y.toPixel(mean))).toBeLessThan(PX);
        const bar = elements(svg, 'line', 'error-bar').find((b) => b.attrs['data-row'] === p.attrs['data-row'])!;
        const [y1, y2] = [Number(bar.attrs.y1), Number(bar.attrs.y2)];
        expect(Math.abs(Math.abs(y2 - y1) - 2 * std * Math.abs(y.pxPerUnit))).toBeLessThan(2 * PX);
        expect(Math.abs((y1 + y2) / 2 - py)).toBeLessThan(PX);
        expect(Number(bar.attrs.x1)).toBeCloseTo(px, 2);
        // Every bar end is inside the printed axis range.
        expect(Math.min(y1, y2)).toBeGreaterThanOrEqual(Math.min(...y.pixels) - PX);
        expect(Math.max(y1, y2)).toBeLessThanOrEqual(Math.max(...y.pixels) + PX);
        // Labelled with the row's label (and its value).
        const text = elements(svg, 'text', 'point-label').find((t) => t.attrs['data-row'] === p.attrs['data-row'])!;
        expect(textOf(text)).toBe(`${label(p.attrs['data-row'])}: ${mean.toFixed(1)} ± ${std.toFixed(1)}`);
      }
      // Dense baselines are squares; the pruned row is not.
      const inner = (id: string) => points.find((p) => p.attrs['data-row'] === id)!.inner;
      expect(inner('resnet50')).toContain('<rect');
      expect(inner('resnet18')).toContain('<rect');
      expect(inner('haoli')).not.toContain('<rect');
      expect(inner('haoli')).not.toBe(inner('resnet50'));

      // The row that did not run: no point, no label, named in the footnote.
      expect(svg).not.toContain(`data-row="${NOT_RUN_ID}"`);
      const foot = elements(svg, 'text', 'footnote').map(textOf).join(' ');
      expect(foot).toContain(`Not run: ${label(NOT_RUN_ID)}.`);
      // Axis titles with units.
      expect(textOf(elements(svg, 'text', 'axis-label-x')[0])).toContain('MACs');
      expect(textOf(elements(svg, 'text', 'axis-label-y')[0])).toBe(`${metric === 'rank1' ? 'Rank-1' : 'mAP'} after fine-tuning (%)`);
    });
  }

  it("rank-1 carries the paper's 1-pp line at dense ResNet-50's rank-1 − 1; mAP does not", () => {
    const { svg } = accuracyVsCostChart(record, 'rank1');
    const y = axis(svg, 'y');
    const [line] = elements(svg, 'line', 'claim-line');
    const target = KNOWN.resnet50.after.rank1[0] - 1;
    expect(Number(line.attrs['data-value'])).toBe(target);
    expect(Math.abs(Number(line.attrs.y1) - y.toPixel(target))).toBeLessThan(PX);
    expect(line.attrs.y2).toBe(line.attrs.y1);
    expect(line.attrs['stroke-dasharray']).toBeTruthy();
    expect(textOf(elements(svg, 'text', 'claim-label')[0])).toBe(`${target.toFixed(2)} % = ResNet-50 − 1 pp`);
    expect(svg).toContain('within 1% rank-1');
    expect(elements(accuracyVsCostChart(record, 'mAP').svg, 'line', 'claim-line')).toHaveLength(0);
  });

  it('without a dense ResNet-50 there is no 1-pp line, and the footnote says why', () => {
    const { svg } = accuracyVsCostChart(handMadeRecord(['resnet18', 'haoli']), 'rank1');
    expect(elements(svg, 'line', 'claim-line')).toHaveLength(0);
    expect(elements(svg, 'text', 'footnote').map(textOf).join(' ')).toContain('dense ResNet-50 did not run');
    expect(elements(svg, 'g', 'point')).toHaveLength(2);
  });

  it('a record where nothing ran still draws a titled chart that says so', () => {
    const { svg } = accuracyVsCostChart(handMadeRecord([NOT_RUN_ID]), 'rank1');
    expect(tagsBalanced(svg)).toBe(true);
    expect(elements(svg, 'g', 'point')).toHaveLength(0);
    expect(textOf(elements(svg, 'text', 'empty')[0])).toBe('No row has run yet.');
    expect(elements(svg, 'text', 'footnote').map(textOf).join(' ')).toContain(label(NOT_RUN_ID));
  });

  it('has no paper numbers on its axes', () => {
    const { svg } = accuracyVsCostChart(record, 'rank1');
    for (const r of PAPER_TABLE5) expect(svg).not.toContain(`data-row="${r[0]}"`);
    expect(svg).not.toContain('GFLOPs');
  });
});

describe("the paper's Table 5 chart", () => {
  it("plots every Table 5 row at its published GFLOPs and Market-1501 rank-1, exactly", () => {
    const { svg, title } = paperChart('rank1', 'market');
    expect(tagsBalanced(svg)).toBe(true);
    expect(title).toContain("GFLOPs (paper's count)");
    expect(title).toContain('Market-1501');
    expect(textOf(elements(svg, 'text', 'axis-label-x')[0])).toContain("GFLOPs (paper's count");
    const x = axis(svg, 'x');
    const y = axis(svg, 'y');
    const points = elements(svg, 'g', 'point');
    expect(points.map((p) => p.attrs['data-row'])).toEqual(PAPER_TABLE5.map((r) => r[0]));
    for (const [i, p] of points.entries()) {
      const r = PAPER_TABLE5[i];
      expect(Number(p.attrs['data-gflops'])).toBe(r[2]);
      expect(Number(p.attrs['data-params'])).toBe(r[1]);
      expect(Number(p.attrs['data-value'])).toBe(r[4]);
      const [px, py] = translate(p);
      expect(Math.abs(px - x.toPixel(r[2]))).toBeLessThan(PX);
      expect(Math.abs(py - y.toPixel(r[4]))).toBeLessThan(PX);
      const text = elements(svg, 'text', 'point-label').find((t) => t.attrs['data-row'] === r[0])!;
      expect(textOf(text)).toBe(`${r[0]}: ${r[4].toFixed(2)}`);
    }
    // No spread was published: no error bars.
    expect(elements(svg, 'line', 'error-bar')).toHaveLength(0);
    const [line] = elements(svg, 'line', 'claim-line');
    expect(Number(line.attrs['data-value'])).toBeCloseTo(85.07 - 1, 10);
    expect(Math.abs(Number(line.attrs.y1) - y.toPixel(85.07 - 1))).toBeLessThan(PX);
  });

  it('other datasets and mAP read the matching Table 5 column', () => {
    const { svg } = paperChart('mAP', 'duke');
    const points = elements(svg, 'g', 'point');
    points.forEach((p, i) => expect(Number(p.attrs['data-value'])).toBe(PAPER_TABLE5[i][5]));
    expect(elements(svg, 'line', 'claim-line')).toHaveLength(0);
  });
});

describe('before vs after fine-tuning', () => {
  const record = handMadeRecord();

  it('two bars per row that ran, from 0 up to the mean, with ±1 std bars', () => {
    const { svg } = beforeAfterChart(record, 'rank1');
    expect(tagsBalanced(svg)).toBe(true);
    const y = axis(svg, 'y');
    expect(y.values[0]).toBe(0);
    const bars = elements(svg, 'rect', 'bar');
    expect(bars.map((b) => `${b.attrs['data-row']}/${b.attrs['data-phase']}`)).toEqual(['resnet50/before', 'resnet50/after', 'resnet18/before', 'resnet18/after', 'haoli/before', 'haoli/after']);
    for (const b of bars) {
      const [mean, std] = KNOWN[b.attrs['data-row']][b.attrs['data-phase'] as 'before' | 'after'].rank1;
      const top = Number(b.attrs.y);
      expect(Math.abs(top - y.toPixel(mean))).toBeLessThan(PX);
      expect(Math.abs(top + Number(b.attrs.height) - y.toPixel(0))).toBeLessThan(2 * PX);
      const err = elements(svg, 'line', 'error-bar').find((e) => e.attrs['data-row'] === b.attrs['data-row'] && e.attrs['data-phase'] === b.attrs['data-phase']);
      if (std === 0) {
        expect(err).toBeUndefined();
        continue;
      }
      expect(Math.abs(Math.abs(Number(err!.attrs.y2) - Number(err!.attrs.y1)) - 2 * std * Math.abs(y.pxPerUnit))).toBeLessThan(2 * PX);
      expect(Number(err!.attrs.x1)).toBeCloseTo(Number(b.attrs.x) + Number(b.attrs.width) / 2, 1);
    }
    // After is drawn right of before in each group.
    expect(Number(bars[1].attrs.x)).toBeGreaterThan(Number(bars[0].attrs.x));
    expect(svg).not.toContain(`data-row="${NOT_RUN_ID}"`);
    expect(elements(svg, 'text', 'footnote').map(textOf).join(' ')).toContain(`Not run: ${label(NOT_RUN_ID)}.`);
  });
});

describe('the set of charts', () => {
  it('is deterministic and names its files and alt texts', () => {
    const a = reproductionCharts(handMadeRecord());
    const b = reproductionCharts(parseReproduction(reproductionToJson(handMadeRecord())));
    expect(a.map((c) => c.svg)).toEqual(b.map((c) => c.svg));
    expect(a.map((c) => c.name)).toEqual(['rank1-vs-macs', 'map-vs-macs', 'before-after-rank1', 'paper-table5-rank1-vs-gflops']);
    for (const c of a) {
      expect(c.svg.startsWith(`<svg xmlns="http://www.w3.org/2000/svg" width="${c.width}" height="${c.height}"`)).toBe(true);
      expect(c.svg).not.toMatch(/NaN|undefined|Infinity/);
    }
  });
});
