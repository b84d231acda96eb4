/**
 * How the Reproduce view names a committed results file: "full run" only when every planned
 * cell (row x seed, and each budget-sweep row x its seeds) ran; otherwise how many did, so a
 * partial report never reads as complete.
 */
import { cellCounts, type ReproductionRecord } from '../engine/scenarios/reproduction-json';

export function committedWhat(r: Pick<ReproductionRecord, 'quick' | 'rows' | 'seeds' | 'sweep'>): string {
  const { main, sweep } = cellCounts(r);
  if (main.ran >= main.planned && sweep.ran >= sweep.planned) return r.quick ? 'quick run' : 'full run';
  const kind = r.quick ? 'quick run' : 'run';
  const none = r.rows.filter((x) => x.n === 0).length;
  const what =
    main.ran >= main.planned
      ? `${kind} with all ${main.planned} main cells`
      : `${kind} with ${main.ran} of ${main.planned} planned cells (${r.rows.length} rows \u00d7 ${r.seeds.length} seeds)${none ? `; ${none} row${none === 1 ? '' : 's'} not run` : ''}`;
  return sweep.ran < sweep.planned ? `${what}; budget sweep ${sweep.ran} of ${sweep.planned} cells` : what;
}
