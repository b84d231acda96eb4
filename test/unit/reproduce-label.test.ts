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
      const label = committedWhat(rec);
      if (ran < planned) {
        expect(label).not.toMatch(/full run/);
        expect(label).toContain(`${ran} of ${planned} planned cells`);
      } else expect(label).toBe('full run');
    }
  });

  it('every cell run: "full run" (or "quick run")', () => {
    const rows = [{ n: 3 }, { n: 3 }] as never;
    expect(committedWhat({ quick: false, rows, seeds: [1, 2, 3] })).toBe('full run');
    expect(committedWhat({ quick: true, rows, seeds: [1, 2, 3] })).toBe('quick run');
    expect(committedWhat({ quick: false, rows: [{ n: 3 }, { n: 0 }] as never, seeds: [1, 2, 3] })).toBe('run with 3 of 6 planned cells (2 rows \u00d7 3 seeds); 1 row not run');
  });
});
