/**
 * Seeded training augmentation on RGB bytes [n, h, w, 3], the standard ReID recipe (torchreid /
 * fast-reid): random horizontal flip, pad by `padCrop` pixels (black) then crop back to h x w at
 * a random offset, random erasing (Zhong et al. 2020) of a rectangle filled with the ImageNet
 * mean colour (0 after normalisation). Plain loops over bytes: a few ms per batch, negligible
 * next to a forward/backward pass.
 */
import type { Prng } from '../util/prng';
import { IMAGENET_MEAN } from '../data/preprocess';

export interface AugmentConfig {
  /** Probability of a horizontal flip. */
  flip: number;
  /** Padding (pixels) for pad-and-random-crop; 0 disables. */
  padCrop: number;
  /** Probability of random erasing; 0 disables. */
  erasing: number;
  /** Erased area as a fraction of the image, and aspect-ratio range (torchreid defaults). */
  erasingArea: [number, number];
  erasingAspect: [number, number];
}

export const DEFAULT_AUGMENT: AugmentConfig = { flip: 0.5, padCrop: 10, erasing: 0.5, erasingArea: [0.02, 0.4], erasingAspect: [0.3, 3.33] };
export const NO_AUGMENT: AugmentConfig = { flip: 0, padCrop: 0, erasing: 0, erasingArea: [0.02, 0.4], erasingAspect: [0.3, 3.33] };

const MEAN_BYTES = IMAGENET_MEAN.map((m) => Math.round(m * 255));

/** Copy image `src` into `dst` (same size), flipped and shifted: dst(y, x) = src(y + dy, x' + dx), black outside. */
function flipShift(src: Uint8Array, dst: Uint8Array, h: number, w: number, flip: boolean, dy: number, dx: number): void {
  for (let y = 0; y < h; y++) {
    const sy = y + dy;
    const rowOut = y * w * 3;
    if (sy < 0 || sy >= h) {
      dst.fill(0, rowOut, rowOut + w * 3);
      continue;
    }
    for (let x = 0; x < w; x++) {
      const fx = x + dx;
      const o = rowOut + x * 3;
      if (fx < 0 || fx >= w) {
        dst[o] = dst[o + 1] = dst[o + 2] = 0;
        continue;
      }
      const sx = flip ? w - 1 - fx : fx;
      const i = (sy * w + sx) * 3;
      dst[o] = src[i];
      dst[o + 1] = src[i + 1];
      dst[o + 2] = src[i + 2];
    }
  }
}

/** Random erasing's rectangle, or null when no draw fits (torchreid tries 100 times). */
export function erasingRect(h: number, w: number, cfg: AugmentConfig, rng: Prng): { y: number; x: number; eh: number; ew: number } | null {
  for (let attempt = 0; attempt < 100; attempt++) {
    const area = h * w * rng.uniform(cfg.erasingArea[0], cfg.erasingArea[1]);
    const aspect = rng.uniform(cfg.erasingAspect[0], cfg.erasingAspect[1]);
    const eh = Math.round(Math.sqrt(area * aspect));
    const ew = Math.round(Math.sqrt(area / aspect));
    if (eh < h && ew < w && eh > 0 && ew > 0) return { y: rng.int(0, h - eh), x: rng.int(0, w - ew), eh, ew };
  }
  return null;
}

/**
 * Augment n images (new buffer; the input is not modified). Draw order per image: flip, crop
 * offsets, erasing, so a seeded PRNG gives the same result everywhere.
 */
export function augmentBatch(images: Uint8Array, n: number, h: number, w: number, cfg: AugmentConfig, rng: Prng): Uint8Array {
  const size = h * w * 3;
  const out = new Uint8Array(n * size);
  for (let i = 0; i < n; i++) {
    const src = images.subarray(i * size, (i + 1) * size);
    const dst = out.subarray(i * size, (i + 1) * size);
    const flip = cfg.flip > 0 && rng.bool(cfg.flip);
    let dy = 0;
    let dx = 0;
    if (cfg.padCrop > 0) {
      // Crop offset in the padded image is in [0, 2p]; relative to the original: [-p, p].
      dy = rng.int(0, 2 * cfg.padCrop) - cfg.padCrop;
      dx = rng.int(0, 2 * cfg.padCrop) - cfg.padCrop;
    }
    if (!flip && dy === 0 && dx === 0) dst.set(src);
    else flipShift(src, dst, h, w, flip, dy, dx);
    if (cfg.erasing > 0 && rng.bool(cfg.erasing)) {
      const r = erasingRect(h, w, cfg, rng);
      if (r) {
        for (let y = r.y; y < r.y + r.eh; y++) {
          for (let x = r.x; x < r.x + r.ew; x++) {
            const o = (y * w + x) * 3;
            dst[o] = MEAN_BYTES[0];
            dst[o + 1] = MEAN_BYTES[1];
            dst[o + 2] = MEAN_BYTES[2];
          }
        }
      }
    }
  }
  return out;
}
