/**
 * Cross-engine deterministic math for the SynthReID generator.
 *
 * Why: ECMAScript fixes +, -, *, /, Math.sqrt, Math.floor and Math.round to exact IEEE-754
 * results, but leaves Math.sin/cos/exp/log/pow "implementation-approximated": V8, SpiderMonkey
 * and JavaScriptCore may differ in the last bit, and one bit can flip a quantised pixel. So the
 * generator uses only the exact operations; the few transcendental functions it needs are the
 * polynomials below (written out, evaluated in a fixed order), and Gaussian noise is drawn as a
 * sum of uniforms instead of Box-Muller (Prng.normal uses log and cos). With that, the same seed
 * gives the same bytes in Node and in every browser.
 */
import type { Prng } from '../../util/prng';

export const PI = 3.141592653589793;
const TWO_PI = 6.283185307179586;
const HALF_PI = 1.5707963267948966;

/** sin(x) for any x: range reduction to [-pi/2, pi/2], then a degree-11 Taylor polynomial (|err| < 6e-8). */
export function detSin(x: number): number {
  // Reduce to [-pi, pi).
  let r = x - TWO_PI * Math.floor((x + PI) / TWO_PI);
  // Fold into [-pi/2, pi/2] using sin(pi - r) = sin(r).
  if (r > HALF_PI) r = PI - r;
  else if (r < -HALF_PI) r = -PI - r;
  const r2 = r * r;
  return r * (1 + r2 * (-1 / 6 + r2 * (1 / 120 + r2 * (-1 / 5040 + r2 * (1 / 362880 + r2 * (-1 / 39916800))))));
}

export function detCos(x: number): number {
  return detSin(x + HALF_PI);
}

export function clamp(x: number, lo: number, hi: number): number {
  return x < lo ? lo : x > hi ? hi : x;
}

export function clamp01(x: number): number {
  return x < 0 ? 0 : x > 1 ? 1 : x;
}

/**
 * Linear interpolation written as a*(1-t) + b*t so that t = 0 gives exactly a and t = 1 gives
 * exactly b (a + (b-a)*t can miss b by one ulp). The shift knob relies on the endpoints.
 */
export function mix(a: number, b: number, t: number): number {
  return a * (1 - t) + b * t;
}

/** Approximately standard normal: Irwin-Hall sum of 4 uniforms, rescaled to unit variance (tails cut at ±3.46). */
export function gauss(prng: Prng): number {
  return (prng.next() + prng.next() + prng.next() + prng.next() - 2) * 1.7320508075688772;
}

/** Triangular noise in (-1, 1) with variance 1/6: cheap per-pixel sensor noise. */
export function triangular(prng: Prng): number {
  return prng.next() - prng.next();
}

/** FNV-1a 32-bit over bytes: the per-image hash recorded in the manifest. */
export function fnv1a32(bytes: Uint8Array, h = 0x811c9dc5): number {
  let x = h >>> 0;
  for (let i = 0; i < bytes.length; i++) {
    x ^= bytes[i];
    x = Math.imul(x, 0x01000193);
  }
  return x >>> 0;
}

export function hex8(x: number): string {
  return (x >>> 0).toString(16).padStart(8, '0');
}
