/**
 * What a camera does to the scene: illumination and white balance, colour response (hue
 * rotation and tone curve), saturation, effective resolution (capture small, upscale), optical
 * blur, sensor noise, then quantisation to bytes. Only exact IEEE operations are used (see
 * detmath.ts), so the bytes are the same in every JS engine.
 */
import type { Prng } from '../../util/prng';
import { clamp01 } from './detmath';
import type { CameraParams } from './cameras';
import type { Raster } from './raster';

/** Per-image variation of a camera's capture (lighting flicker, auto-exposure). */
export interface CaptureJitter {
  gain: number;
}

/** Area-average downsample to (h2, w2), then bilinear upsample back: a lower effective resolution. */
function resample(src: Float32Array, h: number, w: number, factor: number): void {
  if (factor >= 0.999) return;
  const h2 = Math.max(4, Math.round(h * factor));
  const w2 = Math.max(2, Math.round(w * factor));
  const small = new Float64Array(h2 * w2 * 3);
  for (let i = 0; i < h2; i++) {
    const y0 = Math.floor((i * h) / h2);
    const y1 = Math.max(y0 + 1, Math.floor(((i + 1) * h) / h2));
    for (let j = 0; j < w2; j++) {
      const x0 = Math.floor((j * w) / w2);
      const x1 = Math.max(x0 + 1, Math.floor(((j + 1) * w) / w2));
      let r = 0, g = 0, b = 0;
      for (let y = y0; y < y1; y++) {
        for (let x = x0; x < x1; x++) {
          const o = (y * w + x) * 3;
          r += src[o];
          g += src[o + 1];
          b += src[o + 2];
        }
      }
      const n = (y1 - y0) * (x1 - x0);
      const o2 = (i * w2 + j) * 3;
      small[o2] = r / n;
      small[o2 + 1] = g / n;
      small[o2 + 2] = b / n;
    }
  }
  const sy = h2 / h, sx = w2 / w;
  // Horizontal taps are the same for every row: compute them once.
  const xa = new Int32Array(w), xb = new Int32Array(w), xt = new Float64Array(w);
  for (let x = 0; x < w; x++) {
    let fx = (x + 0.5) * sx - 0.5;
    if (fx < 0) fx = 0;
    if (fx > w2 - 1) fx = w2 - 1;
    const x0 = Math.floor(fx);
    xa[x] = x0 * 3;
    xb[x] = Math.min(w2 - 1, x0 + 1) * 3;
    xt[x] = fx - x0;
  }
  for (let y = 0; y < h; y++) {
    let fy = (y + 0.5) * sy - 0.5;
    if (fy < 0) fy = 0;
    if (fy > h2 - 1) fy = h2 - 1;
    const y0 = Math.floor(fy);
    const r0 = y0 * w2 * 3;
    const r1 = Math.min(h2 - 1, y0 + 1) * w2 * 3;
    const ty = fy - y0;
    for (let x = 0; x < w; x++) {
      const a = r0 + xa[x], b = r0 + xb[x], c = r1 + xa[x], d = r1 + xb[x];
      const tx = xt[x];
      const o = (y * w + x) * 3;
      for (let k = 0; k < 3; k++) {
        const top = small[a + k] * (1 - tx) + small[b + k] * tx;
        const bot = small[c + k] * (1 - tx) + small[d + k] * tx;
        src[o + k] = top * (1 - ty) + bot * ty;
      }
    }
  }
}

/** Separable 3-tap blur [a, 1-2a, a] applied in passes; `amount` ~ blur radius in pixels. */
function blur(src: Float32Array, h: number, w: number, amount: number): void {
  let left = amount;
  const tmp = new Float32Array(src.length);
  while (left > 0.01) {
    const a = (left >= 1 ? 1 : left) / 3;
    left -= 1;
    const c = 1 - 2 * a;
    // Horizontal pass (edge pixels replicate).
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const o = (y * w + x) * 3;
        const l = (y * w + (x > 0 ? x - 1 : 0)) * 3;
        const r = (y * w + (x < w - 1 ? x + 1 : x)) * 3;
        for (let k = 0; k < 3; k++) tmp[o + k] = a * src[l + k] + c * src[o + k] + a * src[r + k];
      }
    }
    for (let y = 0; y < h; y++) {
      const up = y > 0 ? y - 1 : 0;
      const dn = y < h - 1 ? y + 1 : y;
      for (let x = 0; x < w; x++) {
        const o = (y * w + x) * 3;
        const u = (up * w + x) * 3;
        const d = (dn * w + x) * 3;
        for (let k = 0; k < 3; k++) src[o + k] = a * tmp[u + k] + c * tmp[o + k] + a * tmp[d + k];
      }
    }
  }
}

/** Apply camera `cam` to the rendered scene and write bytes into `out` (h*w*3). */
export function captureImage(r: Raster, cam: CameraParams, jitter: CaptureJitter, noisePrng: Prng, out: Uint8Array): void {
  const { width: w, height: h } = r;
  const d = r.data;
  const gain = cam.gain * jitter.gain;
  const wb0 = cam.whiteBalance[0] * gain, wb1 = cam.whiteBalance[1] * gain, wb2 = cam.whiteBalance[2] * gain;
  // Hue rotation as a cyclic channel mix (positive: R takes some G, G some B, B some R).
  const hs = cam.hueShift;
  const m0 = 1 - Math.abs(hs), m1 = hs > 0 ? hs : 0, m2 = hs < 0 ? -hs : 0;
  const tone = cam.tone, sat = cam.saturation;
  for (let i = 0; i < d.length; i += 3) {
    const r0 = d[i] * wb0, g0 = d[i + 1] * wb1, b0 = d[i + 2] * wb2;
    let rr = m0 * r0 + m1 * g0 + m2 * b0;
    let gg = m0 * g0 + m1 * b0 + m2 * r0;
    let bb = m0 * b0 + m1 * r0 + m2 * g0;
    rr = rr < 0 ? 0 : rr > 1 ? 1 : rr;
    gg = gg < 0 ? 0 : gg > 1 ? 1 : gg;
    bb = bb < 0 ? 0 : bb > 1 ? 1 : bb;
    rr = rr + tone * rr * (1 - rr);
    gg = gg + tone * gg * (1 - gg);
    bb = bb + tone * bb * (1 - bb);
    const luma = 0.299 * rr + 0.587 * gg + 0.114 * bb;
    d[i] = luma + sat * (rr - luma);
    d[i + 1] = luma + sat * (gg - luma);
    d[i + 2] = luma + sat * (bb - luma);
  }
  resample(d, h, w, cam.resolution);
  if (cam.blur > 0) blur(d, h, w, cam.blur);
  // Sensor noise: mostly luminance, a little chroma. Triangular draws (difference of two
  // 16-bit uniforms, unit variance after scaling) from an inline mulberry32 stream seeded by
  // the image's PRNG: a method call per draw made noise the slowest part of rendering.
  const sigma = cam.noise * 2.449489742783178 / 65536;
  let st = noisePrng.nextU32();
  for (let i = 0; i < d.length; i += 3) {
    st = (st + 0x6d2b79f5) >>> 0;
    let t = Math.imul(st ^ (st >>> 15), st | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    const u1 = (t ^ (t >>> 14)) >>> 0;
    st = (st + 0x6d2b79f5) >>> 0;
    t = Math.imul(st ^ (st >>> 15), st | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    const u2 = (t ^ (t >>> 14)) >>> 0;
    const nl = sigma * ((u1 & 0xffff) - (u1 >>> 16));
    const nc = 0.35 * sigma * ((u2 & 0xffff) - (u2 >>> 16));
    out[i] = Math.round(clamp01(d[i] + nl + nc) * 255);
    out[i + 1] = Math.round(clamp01(d[i + 1] + nl) * 255);
    out[i + 2] = Math.round(clamp01(d[i + 2] + nl - nc) * 255);
  }
}
