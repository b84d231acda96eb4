import { describe, expect, it } from 'vitest';
import { synthRoster } from '../../src/engine/data/synth';
import type { Identity } from '../../src/engine/data/synth';
import { Raster } from '../../src/engine/data/synth/raster';
import { drawPerson, type View } from '../../src/engine/data/synth/person';

/** A person on a plain grey background, same pose and placement for everyone, no camera. */
function render(p: Identity, view: View): Uint8Array {
  const r = new Raster(64, 128);
  r.fill([0.5, 0.5, 0.5]);
  drawPerson(r, p, { view, facing: 1, phase: 0.1, cx: 32, top: 6, height: 116, light: 1 });
  const out = new Uint8Array(r.data.length);
  for (let i = 0; i < out.length; i++) out[i] = Math.round(r.data[i] * 255);
  return out;
}

/** Pixels whose colour differs clearly (summed |difference| over RGB above 60 of 765). */
function differingPixels(a: Uint8Array, b: Uint8Array): number {
  let n = 0;
  for (let i = 0; i < a.length; i += 3) {
    if (Math.abs(a[i] - b[i]) + Math.abs(a[i + 1] - b[i + 1]) + Math.abs(a[i + 2] - b[i + 2]) > 60) n++;
  }
  return n;
}

function families(people: Identity[]): Identity[][] {
  const m = new Map<number, Identity[]>();
  for (const p of people) m.set(p.family, [...(m.get(p.family) ?? []), p]);
  return [...m.values()];
}

describe('SynthReID outfit families', () => {
  for (const domain of ['source', 'target'] as const) {
    it(`${domain}: siblings share their main colours but differ visibly at 128x64 in every view`, () => {
      const roster = synthRoster({ tier: 'S', domain });
      const fams = families([...roster.train, ...roster.test]).filter((f) => f.length > 1);
      expect(fams.length).toBeGreaterThan(20);
      const cache = new Map<string, Uint8Array>();
      const cached = (p: Identity, view: View) => {
        const k = `${p.pid}/${view}`;
        if (!cache.has(k)) cache.set(k, render(p, view));
        return cache.get(k)!;
      };
      let pairs = 0;
      for (const f of fams) {
        for (let i = 0; i < f.length; i++) {
          for (let j = i + 1; j < f.length; j++) {
            const a = f[i], b = f[j];
            // Same family colours (within the small per-garment jitter).
            for (const key of ['upperColor', 'lowerColor'] as const) {
              const d = a.outfit[key].reduce((s, v, k) => s + (v - b.outfit[key][k]) ** 2, 0);
              expect(d).toBeLessThan(0.02);
            }
            // Several cues apart from the base (so siblings differ from each other too).
            expect(Math.max(a.cues.length, b.cues.length)).toBeGreaterThanOrEqual(3);
            for (const view of ['front', 'back', 'side'] as const) {
              expect(differingPixels(cached(a, view), cached(b, view))).toBeGreaterThanOrEqual(40);
            }
            pairs++;
          }
        }
      }
      expect(pairs).toBeGreaterThan(50);
    });
  }

  it('the same person renders identically across calls (no hidden state)', () => {
    const p = synthRoster({ tier: 'XS', domain: 'source' }).test[0];
    expect(differingPixels(render(p, 'front'), render(p, 'front'))).toBe(0);
  });
});
