/**
 * How the Reproduce view names a committed results file: "full run" only when every planned
 * cell (row x seed) ran; otherwise how many did, so a partial report never reads as complete.
 */
import type { ReproductionRecord } from '../engine/scenarios/reproduction-json';

export function committedWhat(r: Pick<ReproductionRecord, 'quick' | 'rows' | 'seeds'>): string {
  const planned = r.rows.length * r.seeds.length;
  const ran = r.rows.reduce((a, x) => a + Math.min(x.n, r.seeds.length), 0);
  if (ran >= planned) return r.quick ? 'quick run' : 'full run';
  const none = r.rows.filter((x) => x.n === 0).length;
  return `${r.quick ? 'quick run' : 'run'} with ${ran} of ${planned} planned cells (${r.rows.length} rows \u00d7 ${r.seeds.length} seeds)${none ? `; ${none} row${none === 1 ? '' : 's'} not run` : ''}`;
}
