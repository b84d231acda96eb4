/**
 * Clothing and skin colours of SynthReID, as reflectances in [0, 1] (sRGB-like, before the
 * camera's illumination and response are applied). A small named palette keeps outfit
 * families meaningful ("navy jacket"), and per-identity jitter keeps colours from being exact
 * codes a colour histogram could read off.
 */
import type { Prng } from '../../util/prng';
import { clamp01, gauss } from './detmath';

export type Rgb = readonly [number, number, number];

export interface PaletteColor {
  name: string;
  rgb: Rgb;
}

export const CLOTHING_PALETTE: readonly PaletteColor[] = [
  { name: 'black', rgb: [0.07, 0.07, 0.08] },
  { name: 'charcoal', rgb: [0.2, 0.2, 0.22] },
  { name: 'grey', rgb: [0.45, 0.45, 0.46] },
  { name: 'light-grey', rgb: [0.7, 0.7, 0.7] },
  { name: 'white', rgb: [0.9, 0.9, 0.88] },
  { name: 'navy', rgb: [0.09, 0.12, 0.32] },
  { name: 'blue', rgb: [0.14, 0.3, 0.7] },
  { name: 'sky', rgb: [0.45, 0.66, 0.88] },
  { name: 'denim', rgb: [0.24, 0.34, 0.52] },
  { name: 'red', rgb: [0.76, 0.1, 0.1] },
  { name: 'maroon', rgb: [0.4, 0.07, 0.11] },
  { name: 'pink', rgb: [0.92, 0.56, 0.66] },
  { name: 'orange', rgb: [0.92, 0.46, 0.1] },
  { name: 'yellow', rgb: [0.9, 0.78, 0.16] },
  { name: 'beige', rgb: [0.78, 0.7, 0.52] },
  { name: 'brown', rgb: [0.38, 0.24, 0.13] },
  { name: 'olive', rgb: [0.38, 0.4, 0.18] },
  { name: 'green', rgb: [0.14, 0.5, 0.22] },
  { name: 'teal', rgb: [0.08, 0.46, 0.48] },
  { name: 'purple', rgb: [0.38, 0.2, 0.54] },
];

export const SKIN_TONES: readonly Rgb[] = [
  [0.96, 0.8, 0.69],
  [0.9, 0.72, 0.58],
  [0.8, 0.6, 0.45],
  [0.63, 0.45, 0.32],
  [0.45, 0.31, 0.21],
  [0.3, 0.2, 0.14],
];

export const HAIR_COLORS: readonly Rgb[] = [
  [0.05, 0.04, 0.04],
  [0.16, 0.1, 0.06],
  [0.35, 0.22, 0.12],
  [0.7, 0.55, 0.3],
  [0.55, 0.25, 0.1],
  [0.6, 0.6, 0.62],
];

export function paletteIndex(name: string): number {
  const i = CLOTHING_PALETTE.findIndex((c) => c.name === name);
  if (i < 0) throw new RangeError(`Unknown palette colour ${name}`);
  return i;
}

/** A palette colour with a small per-identity variation in brightness and tint. */
export function jitterColor(base: Rgb, prng: Prng, amount = 1): Rgb {
  const b = 1 + 0.07 * amount * gauss(prng);
  return [
    clamp01(base[0] * b + 0.025 * amount * gauss(prng)),
    clamp01(base[1] * b + 0.025 * amount * gauss(prng)),
    clamp01(base[2] * b + 0.025 * amount * gauss(prng)),
  ];
}

/** Squared distance between colours, to keep accents visibly different from the garment. */
export function colorDistance2(a: Rgb, b: Rgb): number {
  const dr = a[0] - b[0];
  const dg = a[1] - b[1];
  const db = a[2] - b[2];
  return dr * dr + dg * dg + db * db;
}
