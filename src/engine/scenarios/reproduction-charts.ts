/**
 * Charts of a reproduction (docs/REPRODUCTION.md) as standalone SVG strings: plain functions of
 * a ReproductionRecord, no DOM and no tfjs, so the same code runs in Node (the chart script
 * renders them to PNG) and could run in the page. Output is deterministic: same record, same
 * bytes (coordinates rounded to 0.01 px, rows in the record's order).
 *
 * Three kinds, never mixing the lab's numbers with the paper's on one pair of axes:
 * - accuracyVsCostChart: the lab's accuracy after fine-tuning against MACs, one point per row
 *   that ran, ±1 sample std bars, and (rank-1) the paper's "within 1% rank-1" line drawn at
 *   dense ResNet-50 − 1 pp.
 * - paperChart: the paper's Table 5 in its own units (GFLOPs as the paper counts them).
 * - beforeAfterChart: each row's accuracy before and after fine-tuning, grouped bars.
 *
 * Machine-readable hooks for tests and tooling: points are <g class="point" data-row=…
 * transform="translate(x,y)">, error bars <line class="error-bar" data-row=…>, ticks
 * <text class="tick-label-x|y" data-value=…>; pixel positions agree with the tick labels.
 */
import { PAPER_TABLE5, PAPER_TABLE5_SOURCE } from './paper-table5';
import type { RowSummary, Stat } from './report';
import type { ReproductionRecord } from './reproduction-json';
import { SWEEP_ROW_IDS, sweepPoints } from './sweep-report';
import { SCENARIO_NUMBER, type ScenarioId } from './types';

export type ChartMetric = 'rank1' | 'mAP';
export type PaperDataset = 'market' | 'duke' | 'cuhk03np';

export interface Chart {
  /** File base name, e.g. "rank1-vs-macs". */
  name: string;
  /** Also the image's alt text. */
  title: string;
  width: number;
  height: number;
  svg: string;
}

export const CHART_WIDTH = 800;
export const CHART_HEIGHT = 480;

const METRIC: Record<ChartMetric, string> = { rank1: 'Rank-1', mAP: 'mAP' };
// Column indices into a PaperTable5Row (see PAPER_TABLE5_COLUMNS).
const PAPER_DATASET: Record<PaperDataset, { name: string; mAP: 3 | 5 | 7; rank1: 4 | 6 | 8 }> = {
  market: { name: 'Market-1501', mAP: 3, rank1: 4 },
  duke: { name: 'DukeMTMC-reID', mAP: 5, rank1: 6 },
  cuhk03np: { name: 'CUHK03-NP', mAP: 7, rank1: 8 },
};

// Okabe-Ito colours (readable with colour-blindness) plus a distinct marker per kind, so the
// charts also read in greyscale.
type MarkerShape = 'square' | 'triangle' | 'circle' | 'diamond';
interface PointStyle {
  shape: MarkerShape;
  color: string;
  legend: string;
}
const DENSE: PointStyle = { shape: 'square', color: '#333333', legend: 'dense, fine-tuned (scenario 4)' };
const SCENARIO_STYLE: Record<Exclude<ScenarioId, 'finetune-only'>, PointStyle> = {
  'prune-at-source': { shape: 'triangle', color: '#D55E00', legend: 'pruned at the source (scenario 1)' },
  'finetune-prune-finetune': { shape: 'circle', color: '#0072B2', legend: 'fine-tune, prune, fine-tune (scenario 2)' },
  'prune-while-finetuning': { shape: 'diamond', color: '#009E73', legend: 'pruned while fine-tuning (scenario 3)' },
};
const CLAIM_COLOR = '#CC79A7';
const BEFORE_COLOR = '#A6CEE3';
const AFTER_COLOR = '#0072B2';
const FONT = "'Liberation Sans', 'DejaVu Sans', Arial, Helvetica, sans-serif";

function styleOf(scenario: ScenarioId): PointStyle {
  return scenario === 'finetune-only' ? DENSE : SCENARIO_STYLE[scenario];
}

// ---------------------------------------------------------------- small pure helpers

/** Pixel coordinate as written: 2 decimals, no "-0". */
function px(v: number): string {
  const r = Math.round(v * 100) / 100;
  return String(r === 0 ? 0 : r);
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Rough text width (no font metrics without a DOM): generous so labels do not collide. */
function textWidth(s: string, size: number): number {
  return s.length * size * 0.58;
}

export interface Ticks {
  lo: number;
  hi: number;
  step: number;
  values: number[];
  decimals: number;
}

/** "Nice" axis ticks (steps of 1, 2, 2.5 or 5 × 10^k) covering [lo, hi] with about `target` intervals. */
export function niceTicks(lo: number, hi: number, target = 6): Ticks {
  if (!(hi > lo)) {
    const d = Math.abs(lo) * 0.1 || 1;
    lo -= d;
    hi += d;
  }
  const raw = (hi - lo) / target;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const f = raw / mag;
  const step = (f <= 1 ? 1 : f <= 2 ? 2 : f <= 2.5 ? 2.5 : f <= 5 ? 5 : 10) * mag;
  const decimals = Math.max(0, -Math.floor(Math.log10(step) + 1e-9)) + (Math.abs(step / mag - 2.5) < 1e-9 ? 1 : 0);
  const a = Math.floor(lo / step + 1e-9);
  const b = Math.ceil(hi / step - 1e-9);
  const values: number[] = [];
  for (let i = a; i <= b; i++) values.push(Number((i * step).toFixed(decimals)));
  return { lo: values[0], hi: values[values.length - 1], step, values, decimals };
}

interface Scale {
  (v: number): number;
  ticks: Ticks;
}

function linear(ticks: Ticks, r0: number, r1: number): Scale {
  const f = ((v: number) => r0 + ((v - ticks.lo) / (ticks.hi - ticks.lo)) * (r1 - r0)) as Scale;
  f.ticks = ticks;
  return f;
}

/** Value range of an accuracy axis: the data, padded a little, kept inside 0..100 %. */
function accuracyTicks(values: number[]): Ticks {
  let lo = Math.min(...values);
  let hi = Math.max(...values);
  const pad = Math.max(0.5, 0.06 * (hi - lo));
  lo = Math.max(0, lo - pad);
  hi = Math.min(100, hi + pad);
  return niceTicks(lo, hi, 6);
}

interface Box {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

function overlaps(a: Box, b: Box): boolean {
  return a.x0 < b.x1 && b.x0 < a.x1 && a.y0 < b.y1 && b.y0 < a.y1;
}

function marker(shape: MarkerShape, color: string, r = 5.5): string {
  switch (shape) {
    case 'square':
      return `<rect x="${px(-r)}" y="${px(-r)}" width="${px(2 * r)}" height="${px(2 * r)}" fill="${color}" stroke="#ffffff" stroke-width="1"/>`;
    case 'circle':
      return `<circle r="${px(r + 0.5)}" fill="${color}" stroke="#ffffff" stroke-width="1"/>`;
    case 'triangle':
      return `<path d="M0,${px(-r - 1.5)} L${px(r + 1)},${px(r)} L${px(-r - 1)},${px(r)} Z" fill="${color}" stroke="#ffffff" stroke-width="1"/>`;
    case 'diamond':
      return `<path d="M0,${px(-r - 1.5)} L${px(r + 1.5)},0 L0,${px(r + 1.5)} L${px(-r - 1.5)},0 Z" fill="${color}" stroke="#ffffff" stroke-width="1"/>`;
  }
}

/** Average glyph width of the charts' sans-serif, in em (measured on the rendered PNGs): sizes text before it is rendered. */
export const EM_PER_CHAR = 0.53;

/** A bar group's label: wrapped at spaces into at most 4 lines of about the group's width at `size` px. */
function labelLines(label: string, groupWidth: number, size: number): string[] {
  return wrap(label, Math.max(6, Math.floor(groupWidth / (size * EM_PER_CHAR))), 4);
}

/**
 * One font size for every group label of a chart: `baseSize`, or smaller when a label's longest
 * line (a long single word) would run into its neighbour's; one size keeps the labels even.
 */
function categoryLabelSize(labels: readonly string[], groupWidth: number, baseSize: number): number {
  const fits = labels.map((l) => (groupWidth - 4) / (EM_PER_CHAR * Math.max(...labelLines(l, groupWidth, baseSize).map((x) => x.length))));
  return Math.max(7, Math.min(baseSize, ...fits));
}

/** Draw a group's label under the axis; returns where a caption under it goes. */
function categoryLabel(parts: string[], id: string, label: string, cx: number, top: number, groupWidth: number, size: number): number {
  const lines = labelLines(label, groupWidth, size);
  lines.forEach((line, k) => parts.push(`<text class="category-label" data-row="${esc(id)}" x="${px(cx)}" y="${px(top + 1.2 * size * k)}" text-anchor="middle" font-size="${px(size)}" fill="#111111">${esc(line)}</text>`));
  return top + 1.2 * size * lines.length;
}

/**
 * Split a sentence into lines of at most `max` characters (at spaces); with `maxLines`, the last
 * line takes the rest (longer than `max` rather than cut off).
 */
function wrap(text: string, max: number, maxLines = Infinity): string[] {
  const lines: string[] = [];
  let cur = '';
  for (const w of text.split(' ')) {
    if (cur && (cur + ' ' + w).length > max && lines.length < maxLines - 1) {
      lines.push(cur);
      cur = w;
    } else cur = cur ? cur + ' ' + w : w;
  }
  if (cur) lines.push(cur);
  return lines;
}

// ---------------------------------------------------------------- the common frame

type LegendItem = { kind: 'marker'; shape: MarkerShape; color: string; text: string } | { kind: 'dash'; color: string; text: string } | { kind: 'errorbar'; text: string } | { kind: 'swatch'; color: string; text: string };

interface Frame {
  parts: string[];
  plot: Box;
}

const MARGIN = { left: 74, right: 24 };

/** Title, subtitle and a wrapped horizontal legend; returns where the plot area starts. */
function openFrame(title: string, subtitle: string, legend: LegendItem[], footnotes: string[], bottomSpace: number): Frame {
  const W = CHART_WIDTH;
  const H = CHART_HEIGHT;
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="${esc(FONT)}" font-size="12">`);
  parts.push(`<title>${esc(title)}</title>`);
  parts.push(`<rect class="background" x="0" y="0" width="${W}" height="${H}" fill="#ffffff"/>`);
  parts.push(`<text class="title" x="${MARGIN.left}" y="24" font-size="17" font-weight="bold" fill="#111111">${esc(title)}</text>`);
  let y = 24;
  for (const line of wrap(subtitle, 118)) {
    y += 16;
    parts.push(`<text class="subtitle" x="${MARGIN.left}" y="${y}" font-size="11.5" fill="#555555">${esc(line)}</text>`);
  }
  // Legend: items left to right, wrapping to a new row when the next one would not fit.
  y += 20;
  let x = MARGIN.left;
  parts.push('<g class="legend">');
  for (const item of legend) {
    const w = 22 + textWidth(item.text, 12);
    if (x > MARGIN.left && x + w > W - MARGIN.right) {
      x = MARGIN.left;
      y += 18;
    }
    const cy = y - 4;
    if (item.kind === 'marker') parts.push(`<g transform="translate(${px(x + 7)},${px(cy)})">${marker(item.shape, item.color, 4.5)}</g>`);
    else if (item.kind === 'dash') parts.push(`<line x1="${px(x)}" y1="${px(cy)}" x2="${px(x + 16)}" y2="${px(cy)}" stroke="${item.color}" stroke-width="2" stroke-dasharray="5,3"/>`);
    else if (item.kind === 'swatch') parts.push(`<rect x="${px(x + 1)}" y="${px(cy - 6)}" width="12" height="12" fill="${item.color}"/>`);
    else parts.push(`<line x1="${px(x + 7)}" y1="${px(cy - 7)}" x2="${px(x + 7)}" y2="${px(cy + 7)}" stroke="#555555" stroke-width="1.3"/><line x1="${px(x + 3)}" y1="${px(cy - 7)}" x2="${px(x + 11)}" y2="${px(cy - 7)}" stroke="#555555" stroke-width="1.3"/><line x1="${px(x + 3)}" y1="${px(cy + 7)}" x2="${px(x + 11)}" y2="${px(cy + 7)}" stroke="#555555" stroke-width="1.3"/>`);
    parts.push(`<text x="${px(x + 20)}" y="${px(y)}" fill="#222222">${esc(item.text)}</text>`);
    x += w + 16;
  }
  parts.push('</g>');
  const footLines = footnotes.flatMap((f) => wrap(f, 130));
  const plot: Box = { x0: MARGIN.left, y0: y + 18, x1: W - MARGIN.right, y1: H - bottomSpace - 14 * footLines.length };
  footLines.forEach((line, i) => {
    parts.push(`<text class="footnote" x="${MARGIN.left}" y="${px(H - 10 - 14 * (footLines.length - 1 - i))}" font-size="11" fill="#555555">${esc(line)}</text>`);
  });
  return { parts, plot };
}

function yAxis(parts: string[], plot: Box, y: Scale, label: string): void {
  const t = y.ticks;
  for (const v of t.values) {
    const yy = y(v);
    parts.push(`<line class="grid-y" x1="${px(plot.x0)}" y1="${px(yy)}" x2="${px(plot.x1)}" y2="${px(yy)}" stroke="#e5e5e5" stroke-width="1"/>`);
    parts.push(`<line class="tick-y" x1="${px(plot.x0 - 5)}" y1="${px(yy)}" x2="${px(plot.x0)}" y2="${px(yy)}" stroke="#333333"/>`);
    parts.push(`<text class="tick-label-y" data-value="${v}" x="${px(plot.x0 - 8)}" y="${px(yy + 4)}" text-anchor="end" fill="#333333">${v.toFixed(t.decimals)}</text>`);
  }
  parts.push(`<line class="axis-y" x1="${px(plot.x0)}" y1="${px(plot.y0)}" x2="${px(plot.x0)}" y2="${px(plot.y1)}" stroke="#333333"/>`);
  const cy = (plot.y0 + plot.y1) / 2;
  parts.push(`<text class="axis-label-y" x="${px(18)}" y="${px(cy)}" transform="rotate(-90 18 ${px(cy)})" text-anchor="middle" font-size="13" fill="#111111">${esc(label)}</text>`);
}

function xAxis(parts: string[], plot: Box, x: Scale, label: string): void {
  const t = x.ticks;
  for (const v of t.values) {
    const xx = x(v);
    parts.push(`<line class="grid-x" x1="${px(xx)}" y1="${px(plot.y0)}" x2="${px(xx)}" y2="${px(plot.y1)}" stroke="#f0f0f0" stroke-width="1"/>`);
    parts.push(`<line class="tick-x" x1="${px(xx)}" y1="${px(plot.y1)}" x2="${px(xx)}" y2="${px(plot.y1 + 5)}" stroke="#333333"/>`);
    parts.push(`<text class="tick-label-x" data-value="${v}" x="${px(xx)}" y="${px(plot.y1 + 19)}" text-anchor="middle" fill="#333333">${v.toFixed(t.decimals)}</text>`);
  }
  parts.push(`<line class="axis-x" x1="${px(plot.x0)}" y1="${px(plot.y1)}" x2="${px(plot.x1)}" y2="${px(plot.y1)}" stroke="#333333"/>`);
  parts.push(`<text class="axis-label-x" x="${px((plot.x0 + plot.x1) / 2)}" y="${px(plot.y1 + 40)}" text-anchor="middle" font-size="13" fill="#111111">${esc(label)}</text>`);
}

// ---------------------------------------------------------------- scatter with labelled points

interface ScatterPoint {
  id: string;
  label: string;
  x: number;
  y: number;
  /** ±1 sample std (0 or NaN: no bar). */
  std: number;
  style: PointStyle;
  /** Tooltip text. */
  tip: string;
  /** Extra data attributes (exact values for readers and tests). */
  data: Record<string, string>;
}

interface ClaimLine {
  value: number;
  text: string;
}

const LABEL_SIZE = 12;

/**
 * Put each point's label beside it (right of it, or left in the right part of the plot) at the
 * nearest height where it overlaps no other label, marker, error bar or the claim line's text.
 * Rows pruned to the same cost share one x, so their labels stack; a leader line joins a label
 * moved away from its point.
 */
function placeLabels(points: { px: number; py: number; text: string }[], plot: Box, obstacles: Box[]): { x: number; y: number; anchor: 'start' | 'end'; moved: boolean }[] {
  const placed: Box[] = [...obstacles];
  const out: { x: number; y: number; anchor: 'start' | 'end'; moved: boolean }[] = new Array(points.length);
  const order = points.map((_, i) => i).sort((a, b) => points[a].py - points[b].py || points[a].px - points[b].px);
  for (const i of order) {
    const p = points[i];
    const w = textWidth(p.text, LABEL_SIZE);
    const prefer: 'start' | 'end' = p.px > plot.x0 + 0.62 * (plot.x1 - plot.x0) ? 'end' : 'start';
    let best: { cost: number; box: Box; x: number; y: number; anchor: 'start' | 'end'; off: number } | undefined;
    for (const anchor of [prefer, prefer === 'start' ? 'end' : 'start'] as const) {
      const x = anchor === 'start' ? p.px + 11 : p.px - 11;
      const bx0 = anchor === 'start' ? x : x - w;
      if (bx0 < plot.x0 + 2 || bx0 + w > plot.x1 - 2) continue;
      for (let k = 0; k <= 2 * (plot.y1 - plot.y0); k++) {
        const off = (k % 2 === 0 ? 1 : -1) * Math.ceil(k / 2) * 2;
        const cost = Math.abs(off) + (anchor === prefer ? 0 : 30);
        if (best && cost >= best.cost) break;
        const yBase = p.py + 4 + off;
        const box: Box = { x0: bx0 - 1, y0: yBase - 10, x1: bx0 + w + 1, y1: yBase + 3 };
        if (box.y0 < plot.y0 || box.y1 > plot.y1) continue;
        if (placed.some((b) => overlaps(b, box))) continue;
        best = { cost, box, x, y: yBase, anchor, off };
        break;
      }
    }
    if (!best) {
      const x = prefer === 'start' ? p.px + 11 : p.px - 11;
      out[i] = { x, y: p.py + 4, anchor: prefer, moved: false };
      continue;
    }
    placed.push(best.box);
    out[i] = { x: best.x, y: best.y, anchor: best.anchor, moved: Math.abs(best.off) > 3 };
  }
  return out;
}

function scatter(frame: Frame, points: ScatterPoint[], x: Scale, y: Scale, claim: ClaimLine | undefined): void {
  const { parts, plot } = frame;
  const obstacles: Box[] = [];
  const pos = points.map((p) => ({ px: x(p.x), py: y(p.y) }));
  points.forEach((p, i) => {
    const { px: cx, py: cy } = pos[i];
    obstacles.push({ x0: cx - 7, y0: cy - 7, x1: cx + 7, y1: cy + 7 });
    if (p.std > 0) obstacles.push({ x0: cx - 5, y0: y(p.y + p.std), x1: cx + 5, y1: y(p.y - p.std) });
  });
  if (claim) {
    const cy = y(claim.value);
    parts.push(`<line class="claim-line" data-value="${claim.value}" x1="${px(plot.x0)}" y1="${px(cy)}" x2="${px(plot.x1)}" y2="${px(cy)}" stroke="${CLAIM_COLOR}" stroke-width="2" stroke-dasharray="7,4"/>`);
    // Its text goes at an end of the line, above or below it, wherever it covers no point.
    const w = textWidth(claim.text, 11.5);
    const spots = [
      { x: plot.x0 + 6, y: cy - 5 },
      { x: plot.x0 + 6, y: cy + 15 },
      { x: plot.x1 - 6 - w, y: cy - 5 },
      { x: plot.x1 - 6 - w, y: cy + 15 },
    ].map((s) => ({ ...s, box: { x0: s.x - 2, y0: s.y - 11, x1: s.x + w + 2, y1: s.y + 3 } }));
    const inside = spots.filter((s) => s.box.y0 >= plot.y0 && s.box.y1 <= plot.y1);
    const spot = inside.find((s) => !obstacles.some((b) => overlaps(b, s.box))) ?? inside[0] ?? spots[0];
    parts.push(`<text class="claim-label" x="${px(spot.x)}" y="${px(spot.y)}" font-size="11.5" fill="#8a3f6c">${esc(claim.text)}</text>`);
    obstacles.push(spot.box, { x0: plot.x0, y0: cy - 1, x1: plot.x1, y1: cy + 1 });
  }
  // Error bars, then leaders, then markers, then labels: markers stay on top of lines.
  points.forEach((p, i) => {
    if (!(p.std > 0)) return;
    const cx = pos[i].px;
    const top = y(p.y + p.std);
    const bottom = y(p.y - p.std);
    parts.push(`<line class="error-bar" data-row="${esc(p.id)}" x1="${px(cx)}" y1="${px(top)}" x2="${px(cx)}" y2="${px(bottom)}" stroke="${p.style.color}" stroke-width="1.4"/>`);
    parts.push(`<line class="error-cap" x1="${px(cx - 4)}" y1="${px(top)}" x2="${px(cx + 4)}" y2="${px(top)}" stroke="${p.style.color}" stroke-width="1.4"/>`);
    parts.push(`<line class="error-cap" x1="${px(cx - 4)}" y1="${px(bottom)}" x2="${px(cx + 4)}" y2="${px(bottom)}" stroke="${p.style.color}" stroke-width="1.4"/>`);
  });
  const labels = placeLabels(
    points.map((p, i) => ({ ...pos[i], text: p.label })),
    plot,
    obstacles,
  );
  points.forEach((p, i) => {
    const l = labels[i];
    if (!l.moved) return;
    const lx = l.anchor === 'start' ? l.x - 2 : l.x + 2;
    parts.push(`<line class="leader" x1="${px(pos[i].px)}" y1="${px(pos[i].py)}" x2="${px(lx)}" y2="${px(l.y - 4)}" stroke="#999999" stroke-width="0.8"/>`);
  });
  points.forEach((p, i) => {
    const attrs = Object.entries(p.data)
      .map(([k, v]) => ` data-${k}="${esc(v)}"`)
      .join('');
    parts.push(`<g class="point" data-row="${esc(p.id)}"${attrs} transform="translate(${px(pos[i].px)},${px(pos[i].py)})"><title>${esc(p.tip)}</title>${marker(p.style.shape, p.style.color)}</g>`);
  });
  points.forEach((p, i) => {
    const l = labels[i];
    parts.push(`<text class="point-label" data-row="${esc(p.id)}" x="${px(l.x)}" y="${px(l.y)}" text-anchor="${l.anchor}" fill="#111111">${esc(p.label)}</text>`);
  });
}

// ---------------------------------------------------------------- the lab's charts

/** Rows that ran (n > 0 with finite numbers for `metric`), and the labels of those that did not. */
export function splitRows(rows: readonly RowSummary[], metric: ChartMetric, phases: ('before' | 'after')[] = ['after']): { ran: RowSummary[]; notRun: string[] } {
  const ran: RowSummary[] = [];
  const notRun: string[] = [];
  for (const r of rows) {
    const ok = r.n > 0 && Number.isFinite(r.macs.mean) && phases.every((ph) => Number.isFinite(r[ph][metric].mean));
    if (ok) ran.push(r);
    else notRun.push(r.row.label);
  }
  return { ran, notRun };
}

function notRunNote(notRun: string[]): string[] {
  return notRun.length ? [`Not run: ${notRun.join(', ')}.`] : [];
}

const f1 = (v: number) => v.toFixed(1);
const pmText = (s: Stat) => (s.n > 1 ? `${f1(s.mean)} ± ${f1(s.std)}` : f1(s.mean));

function seedsNote(r: ReproductionRecord): string {
  const ns = [...new Set(r.rows.filter((x) => x.n > 0).map((x) => x.n))].sort((a, b) => a - b);
  const n = ns.length === 0 ? '0 seeds' : ns.length === 1 ? `${ns[0]} seed${ns[0] === 1 ? '' : 's'}` : `${ns[0]}-${ns[ns.length - 1]} seeds`;
  return `mean of ${n}`;
}

/** budget: what the chart says about fine-tuning steps (default: the main run's). */
function labSubtitle(r: ReproductionRecord, budget = `${r.budget.steps} fine-tuning steps`): string {
  const zoo = r.regime?.id === 'v2' ? 'zoo v2: pre-trained on the pool, then M source' : `zoo v1: from scratch on ${r.tier} source`;
  return `Lab benchmark: SynthReID ${r.tier} target (${zoo}), ${seedsNote(r)} per row, ${budget}; MACs by the lab's counting rules; ${r.date}${r.quick ? '; quick run, indicative only' : ''}.`;
}

/**
 * The lab's accuracy after fine-tuning against cost: x = mean MACs (millions), y = mean rank-1
 * or mAP (%), bars ±1 sample std over seeds. On rank-1, a dashed line at dense ResNet-50's
 * rank-1 − 1 pp: pruned rows above it meet the paper's "within 1% rank-1" reading. (The paper's
 * claim is about rank-1 only, so the mAP chart has no such line.)
 */
export function accuracyVsCostChart(record: ReproductionRecord, metric: ChartMetric = 'rank1'): Chart {
  const { ran, notRun } = splitRows(record.rows, metric);
  const name = `${metric === 'rank1' ? 'rank1' : 'map'}-vs-macs`;
  const title = `${METRIC[metric]} after fine-tuning vs MACs (lab benchmark)`;
  const r50 = ran.find((r) => r.row.id === 'resnet50');
  const claim: ClaimLine | undefined =
    metric === 'rank1' && r50 ? { value: r50.after.rank1.mean - 1, text: `${(r50.after.rank1.mean - 1).toFixed(2)} % = ResNet-50 − 1 pp` } : undefined;
  const footnotes = [...notRunNote(notRun)];
  if (metric === 'rank1' && !r50) footnotes.push('No "within 1% rank-1" line: dense ResNet-50 did not run.');
  const hasBars = ran.some((r) => r.n > 1 && r.after[metric].std > 0);
  const legend: LegendItem[] = [];
  const styles = [...new Set(ran.map((r) => styleOf(r.row.scenario)))];
  for (const s of [DENSE, ...Object.values(SCENARIO_STYLE)]) if (styles.includes(s)) legend.push({ kind: 'marker', shape: s.shape, color: s.color, text: s.legend });
  if (hasBars) legend.push({ kind: 'errorbar', text: '±1 sample std over seeds' });
  if (claim) legend.push({ kind: 'dash', color: CLAIM_COLOR, text: 'dense ResNet-50 − 1 pp: the paper\'s "within 1% rank-1"' });
  const frame = openFrame(title, labSubtitle(record), legend, footnotes, 52);
  const { parts, plot } = frame;
  if (ran.length === 0) {
    parts.push(`<text class="empty" x="${px((plot.x0 + plot.x1) / 2)}" y="${px((plot.y0 + plot.y1) / 2)}" text-anchor="middle" font-size="14" fill="#555555">No row has run yet.</text>`, '</svg>');
    return { name, title, width: CHART_WIDTH, height: CHART_HEIGHT, svg: parts.join('\n') + '\n' };
  }
  const mm = ran.map((r) => r.macs.mean / 1e6);
  // Cost from 0, so "half the MACs" looks like half.
  const x = linear(niceTicks(0, Math.max(...mm) * 1.03, 7), plot.x0, plot.x1);
  const ys = ran.flatMap((r) => {
    const s = r.after[metric];
    return s.std > 0 ? [s.mean - s.std, s.mean + s.std] : [s.mean];
  });
  if (claim) ys.push(claim.value);
  const y = linear(accuracyTicks(ys), plot.y1, plot.y0);
  yAxis(parts, plot, y, `${METRIC[metric]} after fine-tuning (%)`);
  xAxis(parts, plot, x, 'Cost: MACs per image (millions, lab count)');
  const points: ScatterPoint[] = ran.map((r) => {
    const s = r.after[metric];
    return {
      id: r.row.id,
      label: `${r.row.label}: ${pmText(s)}`,
      x: r.macs.mean / 1e6,
      y: s.mean,
      std: r.n > 1 ? s.std : 0,
      style: styleOf(r.row.scenario),
      tip: `${r.row.label} (scenario ${SCENARIO_NUMBER[r.row.scenario]}): ${(r.macs.mean / 1e6).toFixed(1)} MMACs, ${METRIC[metric]} ${pmText(s)} % (n = ${r.n})`,
      data: { mean: String(s.mean), std: String(s.std), n: String(r.n), macs: String(r.macs.mean) },
    };
  });
  scatter(frame, points, x, y, claim);
  parts.push('</svg>');
  return { name, title, width: CHART_WIDTH, height: CHART_HEIGHT, svg: parts.join('\n') + '\n' };
}

/**
 * The paper's Table 5 in its own units: accuracy on one of its datasets against its GFLOPs
 * (the paper's count, convention unknown, never converted to MACs), all rows as published.
 */
export function paperChart(metric: ChartMetric = 'rank1', dataset: PaperDataset = 'market'): Chart {
  const ds = PAPER_DATASET[dataset];
  const col = metric === 'rank1' ? ds.rank1 : ds.mAP;
  const name = `paper-table5-${metric === 'rank1' ? 'rank1' : 'map'}-vs-gflops${dataset === 'market' ? '' : `-${dataset}`}`;
  const title = `Paper, Table 5: ${ds.name} ${METRIC[metric]} vs GFLOPs (paper's count)`;
  const r50 = PAPER_TABLE5.find((r) => r[0] === 'ResNet50')!;
  const claim: ClaimLine | undefined = metric === 'rank1' ? { value: Number((r50[col] - 1).toFixed(2)), text: `${(r50[col] - 1).toFixed(2)} % = ResNet50 − 1 pp` } : undefined;
  const legend: LegendItem[] = [
    { kind: 'marker', shape: DENSE.shape, color: DENSE.color, text: 'dense network (as published)' },
    { kind: 'marker', shape: 'circle', color: '#0072B2', text: 'pruned ResNet-50 (as published)' },
  ];
  if (claim) legend.push({ kind: 'dash', color: CLAIM_COLOR, text: 'ResNet50 − 1 pp: "within 1% rank-1"' });
  const subtitle = "As published in arXiv 1907.02547 (Table 5); not the lab's numbers. GFLOPs in the paper's own, unknown convention: not comparable with the lab's MACs. No spread was published.";
  const frame = openFrame(title, subtitle, legend, [`Source: ${PAPER_TABLE5_SOURCE}`], 52);
  const { parts, plot } = frame;
  const x = linear(niceTicks(0, Math.max(...PAPER_TABLE5.map((r) => r[2])) * 1.03, 7), plot.x0, plot.x1);
  const ys = PAPER_TABLE5.map((r) => r[col]);
  if (claim) ys.push(claim.value);
  const y = linear(accuracyTicks(ys), plot.y1, plot.y0);
  yAxis(parts, plot, y, `${ds.name} ${METRIC[metric]} (%, paper)`);
  xAxis(parts, plot, x, "GFLOPs (paper's count, as published)");
  const points: ScatterPoint[] = PAPER_TABLE5.map((r) => {
    const dense = /^ResNet\d+$/.test(r[0]);
    return {
      id: r[0],
      label: `${r[0]}: ${r[col].toFixed(2)}`,
      x: r[2],
      y: r[col],
      std: 0,
      style: dense ? DENSE : { shape: 'circle', color: '#0072B2', legend: '' },
      tip: `${r[0]}: ${r[2].toFixed(2)} GFLOPs (paper's count), ${r[1].toFixed(2)} M params, ${ds.name} ${METRIC[metric]} ${r[col].toFixed(2)} %`,
      data: { gflops: String(r[2]), params: String(r[1]), value: String(r[col]) },
    };
  });
  scatter(frame, points, x, y, claim);
  parts.push('</svg>');
  return { name, title, width: CHART_WIDTH, height: CHART_HEIGHT, svg: parts.join('\n') + '\n' };
}

/**
 * Before vs after fine-tuning, per row: two bars (the model the row starts from, evaluated on
 * the target before any training; and the row's result), each ±1 sample std. Bars start at 0.
 */
export function beforeAfterChart(record: ReproductionRecord, metric: ChartMetric = 'rank1'): Chart {
  const { ran, notRun } = splitRows(record.rows, metric, ['before', 'after']);
  const name = `before-after-${metric === 'rank1' ? 'rank1' : 'map'}`;
  const title = `${METRIC[metric]} before and after fine-tuning, per row (lab benchmark)`;
  const hasBars = ran.some((r) => r.n > 1 && (r.before[metric].std > 0 || r.after[metric].std > 0));
  const legend: LegendItem[] = [
    { kind: 'swatch', color: BEFORE_COLOR, text: 'before fine-tuning (the zoo model the row starts from)' },
    { kind: 'swatch', color: AFTER_COLOR, text: "after the row's scenario" },
  ];
  if (hasBars) legend.push({ kind: 'errorbar', text: '±1 sample std over seeds' });
  const frame = openFrame(title, labSubtitle(record), legend, notRunNote(notRun), 84);
  const { parts, plot } = frame;
  if (ran.length === 0) {
    parts.push(`<text class="empty" x="${px((plot.x0 + plot.x1) / 2)}" y="${px((plot.y0 + plot.y1) / 2)}" text-anchor="middle" font-size="14" fill="#555555">No row has run yet.</text>`, '</svg>');
    return { name, title, width: CHART_WIDTH, height: CHART_HEIGHT, svg: parts.join('\n') + '\n' };
  }
  const top = Math.max(...ran.flatMap((r) => [r.before[metric], r.after[metric]].map((s) => s.mean + (r.n > 1 ? s.std : 0))));
  const y = linear(niceTicks(0, Math.min(100, top * 1.04), 6), plot.y1, plot.y0);
  yAxis(parts, plot, y, `${METRIC[metric]} (%)`);
  parts.push(`<line class="axis-x" x1="${px(plot.x0)}" y1="${px(plot.y1)}" x2="${px(plot.x1)}" y2="${px(plot.y1)}" stroke="#333333"/>`);
  const gw = (plot.x1 - plot.x0) / ran.length;
  const bw = Math.min(26, gw * 0.34);
  const labelSize = categoryLabelSize(ran.map((r) => r.row.label), gw, 11);
  ran.forEach((r, i) => {
    const c = plot.x0 + gw * (i + 0.5);
    for (const [phase, color, bx] of [['before', BEFORE_COLOR, c - bw - 1], ['after', AFTER_COLOR, c + 1]] as const) {
      const s = r[phase][metric];
      const yt = y(s.mean);
      parts.push(`<rect class="bar" data-row="${esc(r.row.id)}" data-phase="${phase}" data-mean="${s.mean}" data-std="${s.std}" x="${px(bx)}" y="${px(yt)}" width="${px(bw)}" height="${px(y(0) - yt)}" fill="${color}"><title>${esc(`${r.row.label}, ${phase} fine-tuning: ${METRIC[metric]} ${pmText(s)} % (n = ${r.n})`)}</title></rect>`);
      if (r.n > 1 && s.std > 0) {
        const ex = bx + bw / 2;
        const a = y(s.mean + s.std);
        const b = y(Math.max(0, s.mean - s.std));
        parts.push(`<line class="error-bar" data-row="${esc(r.row.id)}" data-phase="${phase}" x1="${px(ex)}" y1="${px(a)}" x2="${px(ex)}" y2="${px(b)}" stroke="#222222" stroke-width="1.3"/>`);
        parts.push(`<line class="error-cap" x1="${px(ex - 4)}" y1="${px(a)}" x2="${px(ex + 4)}" y2="${px(a)}" stroke="#222222" stroke-width="1.3"/>`);
        parts.push(`<line class="error-cap" x1="${px(ex - 4)}" y1="${px(b)}" x2="${px(ex + 4)}" y2="${px(b)}" stroke="#222222" stroke-width="1.3"/>`);
      }
    }
    const below = categoryLabel(parts, r.row.id, r.row.label, c, plot.y1 + 16, gw, labelSize);
    parts.push(`<text class="category-scenario" x="${px(c)}" y="${px(below)}" text-anchor="middle" font-size="${px(Math.min(10, labelSize))}" fill="#777777">scenario ${SCENARIO_NUMBER[r.row.scenario]}</text>`);
  });
  parts.push('</svg>');
  return { name, title, width: CHART_WIDTH, height: CHART_HEIGHT, svg: parts.join('\n') + '\n' };
}

const SWEEP_STYLE: Record<string, PointStyle> = {
  resnet50: DENSE,
  haoli: { shape: 'circle', color: '#0072B2', legend: 'Hao Li (L1), scenario 2' },
  molchanov: { shape: 'triangle', color: '#D55E00', legend: 'Molchanov (Taylor), scenario 2' },
};

/**
 * The recovery budget sweep: rank-1 after fine-tuning against the number of fine-tuning steps
 * (budgets evenly spaced, labelled with their steps), one line per headline row, ±1 sample std,
 * and the "dense − 1 pp" line of each budget: does "within 1%" become a matter of budget?
 */
export function sweepChart(record: ReproductionRecord): Chart {
  const name = 'sweep-rank1-vs-steps';
  const title = 'Rank-1 after fine-tuning vs fine-tuning budget (lab benchmark)';
  const points = sweepPoints(record.budget.steps, record.rows, record.sweep ?? []).filter((p) => p.rows.some((r) => r.n > 0));
  const legend: LegendItem[] = SWEEP_ROW_IDS.map((id) => SWEEP_STYLE[id]).map((st, i) => ({ kind: 'marker' as const, shape: st.shape, color: st.color, text: i === 0 ? 'dense ResNet-50, fine-tuned' : st.legend }));
  legend.push({ kind: 'errorbar', text: '±1 sample std over seeds' }, { kind: 'dash', color: CLAIM_COLOR, text: 'dense ResNet-50 − 1 pp at that budget' });
  const frame = openFrame(title, labSubtitle(record, `${points.map((p) => p.steps).join(', ')} fine-tuning steps of P=${record.budget.p} x K=${record.budget.k} (n per point in the report)`), legend, [], 52);
  const { parts, plot } = frame;
  if (points.length === 0) {
    parts.push(`<text class="empty" x="${px((plot.x0 + plot.x1) / 2)}" y="${px((plot.y0 + plot.y1) / 2)}" text-anchor="middle" font-size="14" fill="#555555">No budget has run yet.</text>`, '</svg>');
    return { name, title, width: CHART_WIDTH, height: CHART_HEIGHT, svg: parts.join('\n') + '\n' };
  }
  const ys: number[] = [];
  for (const p of points) {
    for (const r of p.rows.filter((x) => x.n > 0)) ys.push(r.after.rank1.mean - r.after.rank1.std, r.after.rank1.mean + r.after.rank1.std);
    const d = p.rows.find((r) => r.row.id === 'resnet50' && r.n > 0);
    if (d) ys.push(d.after.rank1.mean - 1);
  }
  const y = linear(accuracyTicks(ys), plot.y1, plot.y0);
  yAxis(parts, plot, y, 'Rank-1 after fine-tuning (%)');
  parts.push(`<line class="axis-x" x1="${px(plot.x0)}" y1="${px(plot.y1)}" x2="${px(plot.x1)}" y2="${px(plot.y1)}" stroke="#333333"/>`);
  const gx = (i: number) => plot.x0 + ((i + 0.5) * (plot.x1 - plot.x0)) / points.length;
  points.forEach((p, i) => parts.push(`<text class="tick-label-x" data-value="${p.steps}" x="${px(gx(i))}" y="${px(plot.y1 + 19)}" text-anchor="middle" fill="#333333">${p.steps} steps (${p.steps * record.budget.p * record.budget.k} images)</text>`));
  parts.push(`<text class="axis-label-x" x="${px((plot.x0 + plot.x1) / 2)}" y="${px(plot.y1 + 40)}" text-anchor="middle" font-size="13" fill="#111111">Fine-tuning budget (same recipe; budgets evenly spaced, not to scale)</text>`);
  // The claim's line: a short dashed segment at each budget's dense − 1 pp.
  const half = Math.min(60, (plot.x1 - plot.x0) / points.length / 2 - 8);
  points.forEach((p, i) => {
    const d = p.rows.find((r) => r.row.id === 'resnet50' && r.n > 0);
    if (!d) return;
    const v = d.after.rank1.mean - 1;
    parts.push(`<line class="claim-line" data-steps="${p.steps}" data-value="${v}" x1="${px(gx(i) - half)}" y1="${px(y(v))}" x2="${px(gx(i) + half)}" y2="${px(y(v))}" stroke="${CLAIM_COLOR}" stroke-width="2" stroke-dasharray="7,4"/>`);
  });
  SWEEP_ROW_IDS.forEach((id, k) => {
    const st = SWEEP_STYLE[id];
    const dx = (k - 1) * 10; // side by side within a budget, so bars do not hide each other
    const pts = points.map((p, i) => ({ i, r: p.rows.find((r) => r.row.id === id && r.n > 0), steps: p.steps })).filter((q) => q.r);
    if (pts.length > 1) parts.push(`<polyline class="sweep-line" data-row="${id}" points="${pts.map((q) => `${px(gx(q.i) + dx)},${px(y(q.r!.after.rank1.mean))}`).join(' ')}" fill="none" stroke="${st.color}" stroke-width="1.5"/>`);
    for (const q of pts) {
      const s = q.r!.after.rank1;
      const cx = gx(q.i) + dx;
      if (q.r!.n > 1 && s.std > 0) parts.push(`<line class="error-bar" data-row="${id}" data-steps="${q.steps}" x1="${px(cx)}" y1="${px(y(s.mean + s.std))}" x2="${px(cx)}" y2="${px(y(s.mean - s.std))}" stroke="${st.color}" stroke-width="1.4"/>`);
      parts.push(`<g class="point" data-row="${id}" data-steps="${q.steps}" data-mean="${s.mean}" data-std="${s.std}" data-n="${q.r!.n}" transform="translate(${px(cx)},${px(y(s.mean))})"><title>${esc(`${q.r!.row.label}, ${q.steps} steps: rank-1 ${pmText(s)} % (n = ${q.r!.n})`)}</title>${marker(st.shape, st.color)}</g>`);
    }
  });
  parts.push('</svg>');
  return { name, title, width: CHART_WIDTH, height: CHART_HEIGHT, svg: parts.join('\n') + '\n' };
}

const REGIME_COLORS = ['#0072B2', '#A6CEE3', '#E69F00', '#999999'];

/**
 * The regimes side by side: each row's rank-1 after fine-tuning in each regime (grouped bars,
 * ±1 sample std), the first record's rows in its order. Same benchmark, plan and verdict rule;
 * only the zoo differs.
 */
export function regimesChart(records: readonly ReproductionRecord[]): Chart {
  const name = 'regimes-rank1';
  const title = 'Rank-1 after fine-tuning, per row, in each regime (lab benchmark)';
  const ids = records[0].rows.map((r) => r.row.id).filter((id) => records.some((rec) => rec.rows.some((r) => r.row.id === id && r.n > 0)));
  const legend: LegendItem[] = records.map((r, i) => ({ kind: 'swatch' as const, color: REGIME_COLORS[i % REGIME_COLORS.length], text: `${r.regime?.id ?? 'v1'}: ${(r.regime?.label ?? 'from scratch on SynthReID S source').replace(/^v\d+: /, '')}` }));
  legend.push({ kind: 'errorbar', text: '±1 sample std over seeds' });
  const frame = openFrame(title, `SynthReID ${records[0].tier} target, ${records[0].budget.steps} fine-tuning steps in every row; the bars of a row differ only in the zoo model it starts from.`, legend, [], 72);
  const { parts, plot } = frame;
  const vals = records.flatMap((rec) => rec.rows.filter((r) => ids.includes(r.row.id) && r.n > 0).map((r) => r.after.rank1.mean + r.after.rank1.std));
  const y = linear(niceTicks(0, Math.min(100, Math.max(1, ...vals) * 1.04), 6), plot.y1, plot.y0);
  yAxis(parts, plot, y, 'Rank-1 after fine-tuning (%)');
  parts.push(`<line class="axis-x" x1="${px(plot.x0)}" y1="${px(plot.y1)}" x2="${px(plot.x1)}" y2="${px(plot.y1)}" stroke="#333333"/>`);
  const gw = (plot.x1 - plot.x0) / Math.max(1, ids.length);
  const bw = Math.min(20, (gw * 0.8) / records.length);
  const labelOf = (id: string) => records[0].rows.find((x) => x.row.id === id)!.row.label;
  const labelSize = categoryLabelSize(ids.map(labelOf), gw, 10);
  ids.forEach((id, i) => {
    const c = plot.x0 + gw * (i + 0.5);
    records.forEach((rec, k) => {
      const r = rec.rows.find((x) => x.row.id === id && x.n > 0);
      if (!r) return;
      const s = r.after.rank1;
      const bx = c - (records.length * bw) / 2 + k * bw;
      const yt = y(s.mean);
      parts.push(`<rect class="bar" data-row="${esc(id)}" data-regime="${esc(rec.regime?.id ?? 'v1')}" data-mean="${s.mean}" data-std="${s.std}" data-n="${r.n}" x="${px(bx)}" y="${px(yt)}" width="${px(bw - 1)}" height="${px(y(0) - yt)}" fill="${REGIME_COLORS[k % REGIME_COLORS.length]}"><title>${esc(`${r.row.label}, ${rec.regime?.id ?? 'v1'}: rank-1 ${pmText(s)} % (n = ${r.n})`)}</title></rect>`);
      if (r.n > 1 && s.std > 0) parts.push(`<line class="error-bar" data-row="${esc(id)}" x1="${px(bx + bw / 2)}" y1="${px(y(s.mean + s.std))}" x2="${px(bx + bw / 2)}" y2="${px(y(Math.max(0, s.mean - s.std)))}" stroke="#222222" stroke-width="1.2"/>`);
    });
    categoryLabel(parts, id, labelOf(id), c, plot.y1 + 14, gw, labelSize);
  });
  parts.push('</svg>');
  return { name, title, width: CHART_WIDTH, height: CHART_HEIGHT, svg: parts.join('\n') + '\n' };
}

/** Every chart of a reproduction, in the order the report shows them; `others`: other regimes' records. */
export function reproductionCharts(record: ReproductionRecord, others: readonly ReproductionRecord[] = []): Chart[] {
  const charts = [accuracyVsCostChart(record, 'rank1'), accuracyVsCostChart(record, 'mAP'), beforeAfterChart(record, 'rank1')];
  if (record.sweep?.length) charts.push(sweepChart(record));
  if (others.length) charts.push(regimesChart([record, ...others]));
  charts.push(paperChart('rank1', 'market'));
  return charts;
}
