/**
 * A small hand-made reproduction record (known means and stds, one row that did not run) and a
 * tiny SVG reader (regex over the chart's flat markup, no DOM) for the chart tests.
 */
import type { RowSummary, Stat } from '../../src/engine/scenarios/report';
import { REPRODUCE_ROWS } from '../../src/engine/scenarios/reproduce-plan';
import { REPRODUCTION_FORMAT, type ReproductionRecord } from '../../src/engine/scenarios/reproduction-json';

const S = (mean: number, std: number, n: number): Stat => ({ mean, std, n });
const NONE: Stat = { mean: NaN, std: 0, n: 0 };

export interface RowNumbers {
  n: number;
  macs: number;
  before: { rank1: [number, number]; mAP: [number, number] };
  after: { rank1: [number, number]; mAP: [number, number] };
}

/** Known numbers per row id (accuracies in pp: [mean, std]); rows not listed did not run. */
export const KNOWN: Record<string, RowNumbers> = {
  resnet50: { n: 3, macs: 300e6, before: { rank1: [30, 0], mAP: [15, 0] }, after: { rank1: [80, 1.5], mAP: [60, 1] } },
  resnet18: { n: 3, macs: 150e6, before: { rank1: [25, 0.4], mAP: [12, 0.2] }, after: { rank1: [74, 2], mAP: [52, 1.2] } },
  haoli: { n: 2, macs: 151e6, before: { rank1: [30, 0.8], mAP: [15, 0.5] }, after: { rank1: [79.5, 0.5], mAP: [58.5, 0.7] } },
};
export const NOT_RUN_ID = 'psfp';

function row(id: string): RowSummary {
  const row = REPRODUCE_ROWS.find((r) => r.id === id)!;
  const k = KNOWN[id];
  if (!k) return { row, n: 0, macs: NONE, params: NONE, before: { mAP: NONE, rank1: NONE }, after: { mAP: NONE, rank1: NONE, rank5: NONE }, imagesSeen: [], seconds: NONE };
  return {
    row,
    n: k.n,
    macs: S(k.macs, 0, k.n),
    params: S(k.macs / 40, 0, k.n),
    before: { rank1: S(...k.before.rank1, k.n), mAP: S(...k.before.mAP, k.n) },
    after: { rank1: S(...k.after.rank1, k.n), mAP: S(...k.after.mAP, k.n), rank5: S(k.after.rank1[0] + 8, 1, k.n) },
    imagesSeen: Array.from({ length: k.n }, () => 3200),
    seconds: S(60, 5, k.n),
  };
}

export function handMadeRecord(ids: readonly string[] = ['resnet50', 'resnet18', 'haoli', NOT_RUN_ID]): ReproductionRecord {
  return {
    format: REPRODUCTION_FORMAT,
    date: '2025-01-02',
    machine: 'test machine',
    command: 'lab reproduce --seeds 3',
    quick: false,
    tier: 'S',
    seeds: [1, 2, 3],
    budget: { steps: 100, p: 8, k: 4, lr: 1e-4 },
    macsKeep: 0.5,
    wallSeconds: 100,
    setup: [],
    notes: [],
    rows: ids.map(row),
    verdicts: [],
  };
}

// ---------------------------------------------------------------- reading the SVG back

export interface Element {
  tag: string;
  attrs: Record<string, string>;
  /** Markup between the start and end tag ('' for a self-closing element). */
  inner: string;
}

function unescape(s: string): string {
  return s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&amp;/g, '&');
}

function parseAttrs(s: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of s.matchAll(/([\w:-]+)="([^"]*)"/g)) out[m[1]] = unescape(m[2]);
  return out;
}

/** Elements of `tag` whose class is `cls` (the chart nests no element inside one of the same tag). */
export function elements(svg: string, tag: string, cls: string): Element[] {
  const out: Element[] = [];
  const re = new RegExp(`<${tag}\\b([^>]*?)(/?)>`, 'g');
  for (const m of svg.matchAll(re)) {
    const attrs = parseAttrs(m[1]);
    if (attrs.class !== cls) continue;
    let inner = '';
    if (m[2] !== '/') {
      const start = m.index! + m[0].length;
      const end = svg.indexOf(`</${tag}>`, start);
      inner = svg.slice(start, end);
    }
    out.push({ tag, attrs, inner });
  }
  return out;
}

export function textOf(e: Element): string {
  return unescape(e.inner.replace(/<[^>]*>/g, ''));
}

/** Every start tag closed in order: the SVG is well-formed as far as nesting goes. */
export function tagsBalanced(svg: string): boolean {
  const stack: string[] = [];
  for (const m of svg.matchAll(/<(\/?)([a-zA-Z]+)\b[^>]*?(\/?)>/g)) {
    if (m[3] === '/') continue;
    if (m[1] === '/') {
      if (stack.pop() !== m[2]) return false;
    } else stack.push(m[2]);
  }
  return stack.length === 0;
}

export function translate(e: Element): [number, number] {
  const m = /translate\(([-\d.]+),([-\d.]+)\)/.exec(e.attrs.transform ?? '');
  if (!m) throw new Error(`no translate() on ${JSON.stringify(e.attrs)}`);
  return [Number(m[1]), Number(m[2])];
}

/**
 * An axis as a reader sees it: the value printed at each tick label and the pixel position of
 * its tick mark; `toPixel` is the straight line through the first and last tick.
 */
export function axis(svg: string, which: 'x' | 'y'): { values: number[]; pixels: number[]; toPixel: (v: number) => number; pxPerUnit: number } {
  const labels = elements(svg, 'text', `tick-label-${which}`);
  const marks = elements(svg, 'line', `tick-${which}`);
  if (labels.length !== marks.length || labels.length < 2) throw new Error(`${which} axis: ${labels.length} labels, ${marks.length} tick marks`);
  const values = labels.map((l) => Number(textOf(l)));
  const pixels = marks.map((m) => Number(which === 'x' ? m.attrs.x1 : m.attrs.y1));
  const [v0, v1] = [values[0], values[values.length - 1]];
  const [p0, p1] = [pixels[0], pixels[pixels.length - 1]];
  const pxPerUnit = (p1 - p0) / (v1 - v0);
  return { values, pixels, toPixel: (v) => p0 + (v - v0) * pxPerUnit, pxPerUnit };
}
