/**
 * A tiny float RGB rasteriser: the shapes SynthReID draws people and scenes with.
 *
 * Pure TypeScript on a Float32Array (values in [0, 1]), no canvas: the same calls give the same
 * bytes in Node and every browser. Edges are anti-aliased by analytic coverage (signed distance
 * to the shape, clamped to one pixel), which keeps thin cues (straps, logos, stripes) stable
 * under sub-pixel motion instead of flickering between 0 and 1 pixel wide.
 */
import { clamp01 } from './detmath';
import type { Rgb } from './palette';

/** How a shape is filled: a solid colour or a garment pattern, optionally with cylinder shading. */
export interface Paint {
  color: Rgb;
  /** Pattern colour (stripes, checks). */
  accent?: Rgb;
  pattern?: 'stripes' | 'checks';
  /** Pattern period in pixels and its origin (so a pattern moves with the garment). */
  period?: number;
  originX?: number;
  originY?: number;
  /** Cylinder shading: darken towards |x - shadeCx| = shadeHalfWidth by up to shadeAmount. */
  shadeCx?: number;
  shadeHalfWidth?: number;
  shadeAmount?: number;
  /** Overall opacity. */
  alpha?: number;
}

export function solid(color: Rgb, alpha = 1): Paint {
  return { color, alpha };
}

export class Raster {
  readonly width: number;
  readonly height: number;
  readonly data: Float32Array;
  private readonly tmp = new Float64Array(3);

  constructor(width: number, height: number) {
    this.width = width;
    this.height = height;
    this.data = new Float32Array(width * height * 3);
  }

  fill(c: Rgb): void {
    const d = this.data;
    for (let i = 0; i < d.length; i += 3) {
      d[i] = c[0];
      d[i + 1] = c[1];
      d[i + 2] = c[2];
    }
  }

  /** Paint colour at pixel centre (x, y) into this.tmp. */
  private shadeAt(p: Paint, x: number, y: number): Float64Array {
    const t = this.tmp;
    let r = p.color[0];
    let g = p.color[1];
    let b = p.color[2];
    if (p.pattern && p.accent && p.period) {
      const per = p.period;
      const fy = (y - (p.originY ?? 0)) / per;
      const onY = fy - Math.floor(fy) < 0.42 ? 1 : 0;
      let w = onY;
      if (p.pattern === 'checks') {
        const fx = (x - (p.originX ?? 0)) / per;
        const onX = fx - Math.floor(fx) < 0.42 ? 1 : 0;
        // Gingham: full accent where bands cross, half where one band passes.
        w = (onX + onY) * 0.5;
      }
      if (w > 0) {
        r = r * (1 - w) + p.accent[0] * w;
        g = g * (1 - w) + p.accent[1] * w;
        b = b * (1 - w) + p.accent[2] * w;
      }
    }
    if (p.shadeAmount && p.shadeHalfWidth) {
      const u = (x - (p.shadeCx ?? 0)) / p.shadeHalfWidth;
      const s = 1 - p.shadeAmount * clamp01(u * u);
      r *= s;
      g *= s;
      b *= s;
    }
    t[0] = r;
    t[1] = g;
    t[2] = b;
    return t;
  }

  /** Blend paint into pixel (ix, iy) with coverage a in [0, 1]. */
  private blend(ix: number, iy: number, p: Paint, a: number): void {
    const alpha = a * (p.alpha ?? 1);
    if (alpha <= 0) return;
    // Solid paints skip the per-pixel pattern and shading evaluation (most of the pixels drawn).
    const c = p.pattern || p.shadeAmount ? this.shadeAt(p, ix + 0.5, iy + 0.5) : p.color;
    const o = (iy * this.width + ix) * 3;
    const d = this.data;
    if (alpha >= 1) {
      d[o] = c[0];
      d[o + 1] = c[1];
      d[o + 2] = c[2];
    } else {
      d[o] = d[o] * (1 - alpha) + c[0] * alpha;
      d[o + 1] = d[o + 1] * (1 - alpha) + c[1] * alpha;
      d[o + 2] = d[o + 2] * (1 - alpha) + c[2] * alpha;
    }
  }

  private bounds(x0: number, y0: number, x1: number, y1: number): [number, number, number, number] | null {
    const ix0 = Math.max(0, Math.floor(x0));
    const iy0 = Math.max(0, Math.floor(y0));
    const ix1 = Math.min(this.width - 1, Math.ceil(x1));
    const iy1 = Math.min(this.height - 1, Math.ceil(y1));
    if (ix0 > ix1 || iy0 > iy1) return null;
    return [ix0, iy0, ix1, iy1];
  }

  /** Axis-aligned rectangle [x0, x1] x [y0, y1] with fractional edge coverage. */
  fillRect(x0: number, y0: number, x1: number, y1: number, p: Paint): void {
    const bb = this.bounds(x0, y0, x1, y1);
    if (!bb) return;
    const opaqueSolid = !p.pattern && !p.shadeAmount && (p.alpha ?? 1) >= 1;
    const d = this.data;
    const [cr, cg, cb] = p.color;
    for (let iy = bb[1]; iy <= bb[3]; iy++) {
      const cy = clamp01(Math.min(iy + 1, y1) - Math.max(iy, y0));
      if (cy <= 0) continue;
      for (let ix = bb[0]; ix <= bb[2]; ix++) {
        if (opaqueSolid && cy >= 1 && ix >= x0 && ix + 1 <= x1) {
          // Fully covered pixel of an opaque solid rectangle: a plain store (the common case).
          const o = (iy * this.width + ix) * 3;
          d[o] = cr;
          d[o + 1] = cg;
          d[o + 2] = cb;
          continue;
        }
        const cx = clamp01(Math.min(ix + 1, x1) - Math.max(ix, x0));
        if (cx > 0) this.blend(ix, iy, p, cx * cy);
      }
    }
  }

  /** Ellipse centred at (cx, cy) with radii rx, ry. */
  fillEllipse(cx: number, cy: number, rx: number, ry: number, p: Paint): void {
    if (rx <= 0 || ry <= 0) return;
    const bb = this.bounds(cx - rx - 1, cy - ry - 1, cx + rx + 1, cy + ry + 1);
    if (!bb) return;
    const rmin = Math.min(rx, ry);
    for (let iy = bb[1]; iy <= bb[3]; iy++) {
      const dy = (iy + 0.5 - cy) / ry;
      for (let ix = bb[0]; ix <= bb[2]; ix++) {
        const dx = (ix + 0.5 - cx) / rx;
        const d = (Math.sqrt(dx * dx + dy * dy) - 1) * rmin;
        const a = clamp01(0.5 - d);
        if (a > 0) this.blend(ix, iy, p, a);
      }
    }
  }

  /**
   * Convex polygon (points as [x0, y0, x1, y1, ...], either winding). Coverage from the
   * smallest signed distance to the edges.
   */
  fillPolygon(pts: readonly number[], p: Paint): void {
    const n = pts.length / 2;
    if (n < 3) return;
    let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
    let area = 0;
    for (let i = 0; i < n; i++) {
      const x = pts[2 * i], y = pts[2 * i + 1];
      if (x < x0) x0 = x;
      if (x > x1) x1 = x;
      if (y < y0) y0 = y;
      if (y > y1) y1 = y;
      const j = (i + 1) % n;
      area += x * pts[2 * j + 1] - pts[2 * j] * y;
    }
    if (area === 0) return;
    const sign = area > 0 ? 1 : -1;
    // Inward unit normals and offsets of each edge.
    const nx = new Float64Array(n), ny = new Float64Array(n), off = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const j = (i + 1) % n;
      const ex = pts[2 * j] - pts[2 * i], ey = pts[2 * j + 1] - pts[2 * i + 1];
      const len = Math.sqrt(ex * ex + ey * ey) || 1;
      nx[i] = (-ey / len) * sign;
      ny[i] = (ex / len) * sign;
      off[i] = nx[i] * pts[2 * i] + ny[i] * pts[2 * i + 1];
    }
    const bb = this.bounds(x0 - 1, y0 - 1, x1 + 1, y1 + 1);
    if (!bb) return;
    for (let iy = bb[1]; iy <= bb[3]; iy++) {
      const py = iy + 0.5;
      for (let ix = bb[0]; ix <= bb[2]; ix++) {
        const px = ix + 0.5;
        let dmin = Infinity;
        for (let e = 0; e < n; e++) {
          const d = nx[e] * px + ny[e] * py - off[e];
          if (d < dmin) dmin = d;
        }
        const a = clamp01(0.5 + dmin);
        if (a > 0) this.blend(ix, iy, p, a);
      }
    }
  }

  /** Tapered capsule from (ax, ay) radius ra to (bx, by) radius rb: limbs, straps, poles. */
  fillCapsule(ax: number, ay: number, bx: number, by: number, ra: number, rb: number, p: Paint): void {
    const r = Math.max(ra, rb);
    const bb = this.bounds(Math.min(ax, bx) - r - 1, Math.min(ay, by) - r - 1, Math.max(ax, bx) + r + 1, Math.max(ay, by) + r + 1);
    if (!bb) return;
    const ex = bx - ax, ey = by - ay;
    const len2 = ex * ex + ey * ey;
    for (let iy = bb[1]; iy <= bb[3]; iy++) {
      const py = iy + 0.5;
      for (let ix = bb[0]; ix <= bb[2]; ix++) {
        const px = ix + 0.5;
        let t = len2 > 0 ? ((px - ax) * ex + (py - ay) * ey) / len2 : 0;
        t = clamp01(t);
        const qx = ax + ex * t - px, qy = ay + ey * t - py;
        const d = Math.sqrt(qx * qx + qy * qy) - (ra + (rb - ra) * t);
        const a = clamp01(0.5 - d);
        if (a > 0) this.blend(ix, iy, p, a);
      }
    }
  }
}
