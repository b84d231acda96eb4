/** The Reproduce view's label for a committed file says what was run (src/ui/reproduce-label.ts). */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { committedWhat } from '../../src/ui/reproduce-label';
import { parseReproduction } from '../../src/engine/scenarios/reproduction-json';

describe('committedWhat', () => {
  it('the committed public/reproduction.json (27 of 36 cells) is not called a full run', () => {
    const rec = parseReproduction(readFileSync('public/reproduction.json', 'utf8'));
    const planned = rec.rows.length * rec.seeds.length;
    const ran = rec.rows.reduce((a, r) => a + r.n, 0);
    expect(ran).toBeLessThan(planned);
    const label = committedWhat(rec);
    expect(label).not.toMatch(/full run/);
    expect(label).toContain(`${ran} of ${planned} planned cells`);
  });

  it('every cell run: "full run" (or "quick run")', () => {
    const rows = [{ n: 3 }, { n: 3 }] as never;
    expect(committedWhat({ quick: false, rows, seeds: [1, 2, 3] })).toBe('full run');
    expect(committedWhat({ quick: true, rows, seeds: [1, 2, 3] })).toBe('quick run');
    expect(committedWhat({ quick: false, rows: [{ n: 3 }, { n: 0 }] as never, seeds: [1, 2, 3] })).toBe('run with 3 of 6 planned cells (2 rows \u00d7 3 seeds); 1 row not run');
  });
});
