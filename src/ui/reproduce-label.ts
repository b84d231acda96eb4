/**
 * How the Reproduce view names a committed results file: "full run" only when every planned
 * cell (row x seed, and each budget-sweep row x its seeds) ran; otherwise how many did, so a
 * partial report never reads as complete.
 */
import type { ReproductionRecord } from '../engine/scenarios/reproduction-json';

export function committedWhat(r: Pick<ReproductionRecord, 'quick' | 'rows' | 'seeds' | 'sweep'>): string {
  const planned = r.rows.length * r.seeds.length;
  const ran = r.rows.reduce((a, x) => a + Math.min(x.n, r.seeds.length), 0);
  // Sweep points from before their seeds were recorded count what they hold.
  const sweepPlanned = (r.sweep ?? []).reduce((a, p) => a + p.rows.length * (p.seeds ?? Math.max(0, ...p.rows.map((x) => x.n))), 0);
  const sweepRan = (r.sweep ?? []).reduce((a, p) => a + p.rows.reduce((b, x) => b + Math.min(x.n, p.seeds ?? x.n), 0), 0);
  if (ran >= planned && sweepRan >= sweepPlanned) return r.quick ? 'quick run' : 'full run';
  const none = r.rows.filter((x) => x.n === 0).length;
  const main = ran >= planned ? `${r.quick ? 'quick run' : 'run'} with all ${planned} main cells` : `${r.quick ? 'quick run' : 'run'} with ${ran} of ${planned} planned cells (${r.rows.length} rows \u00d7 ${r.seeds.length} seeds)${none ? `; ${none} row${none === 1 ? '' : 's'} not run` : ''}`;
  return sweepRan < sweepPlanned ? `${main}; budget sweep ${sweepRan} of ${sweepPlanned} cells` : main;
}
