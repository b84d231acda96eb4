/** The Reproduce view's label for a committed file says what was run (src/ui/reproduce-label.ts). */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { committedWhat } from '../../src/ui/reproduce-label';
import { parseReproductions } from '../../src/engine/scenarios/reproduction-json';

describe('committedWhat', () => {
  it('each regime in the committed public/reproduction.json is called a full run only if every cell ran', () => {
    const recs = parseReproductions(readFileSync('public/reproduction.json', 'utf8'));
    expect(recs.length).toBeGreaterThan(0);
    for (const rec of recs) {
      const planned = rec.rows.length * rec.seeds.length;
      const ran = rec.rows.reduce((a, r) => a + Math.min(r.n, rec.seeds.length), 0);
      const sweepPlanned = (rec.sweep ?? []).reduce((a, p) => a + p.rows.length * (p.seeds ?? 0), 0);
      const sweepRan = (rec.sweep ?? []).reduce((a, p) => a + p.rows.reduce((b, r) => b + Math.min(r.n, p.seeds ?? 0), 0), 0);
      const label = committedWhat(rec);
      if (ran < planned) {
        expect(label).not.toMatch(/full run/);
        expect(label).toContain(`${ran} of ${planned} planned cells`);
      } else if (sweepRan < sweepPlanned) {
        expect(label).not.toMatch(/full run/);
        expect(label).toContain(`budget sweep ${sweepRan} of ${sweepPlanned} cells`);
      } else expect(label).toBe('full run');
    }
  });

  it('every cell run: "full run" (or "quick run")', () => {
    const rows = [{ n: 3 }, { n: 3 }] as never;
    expect(committedWhat({ quick: false, rows, seeds: [1, 2, 3] })).toBe('full run');
    expect(committedWhat({ quick: true, rows, seeds: [1, 2, 3] })).toBe('quick run');
    expect(committedWhat({ quick: false, rows: [{ n: 3 }, { n: 0 }] as never, seeds: [1, 2, 3] })).toBe('run with 3 of 6 planned cells (2 rows \u00d7 3 seeds); 1 row not run');
  });

  it('the budget sweep counts: every main cell but a sweep cell missing is not a full run', () => {
    const rows = [{ n: 3 }, { n: 3 }] as never;
    // 300 steps: 3 rows x 3 seeds, 2 ran for one row; 1000 steps: 3 rows x 1 seed, none ran.
    const sweep = [
      { steps: 300, seeds: 3, rows: [{ n: 3 }, { n: 3 }, { n: 2 }] },
      { steps: 1000, seeds: 1, rows: [{ n: 0 }, { n: 0 }, { n: 0 }] },
    ] as never;
    expect(committedWhat({ quick: false, rows, seeds: [1, 2, 3], sweep })).toBe('run with all 6 main cells; budget sweep 8 of 12 cells');
    const done = [{ steps: 300, seeds: 3, rows: [{ n: 3 }, { n: 3 }, { n: 3 }] }, { steps: 1000, seeds: 1, rows: [{ n: 1 }, { n: 1 }, { n: 1 }] }] as never;
    expect(committedWhat({ quick: false, rows, seeds: [1, 2, 3], sweep: done })).toBe('full run');
    // A point written before its seeds were recorded: planned = its rows x the most seeds any row has (3 x 2), ran 2 + 2 + 1.
    const old = [{ steps: 300, rows: [{ n: 2 }, { n: 2 }, { n: 1 }] }] as never;
    expect(committedWhat({ quick: false, rows, seeds: [1, 2, 3], sweep: old })).toBe('run with all 6 main cells; budget sweep 5 of 6 cells');
  });
});
