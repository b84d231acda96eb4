/**
 * Backgrounds and occluders. Each camera has a fixed scene (a wide strip of wall/backdrop and
 * floor with objects, laid out once from the camera's layout seed); each image shows the part
 * of the strip behind its detector box, so images from one camera share background statistics
 * and images from different cameras do not. Occluders (poles, objects) are drawn in front of
 * the person.
 */
import { Prng } from '../../util/prng';
import { clamp01 } from './detmath';
import type { Rgb } from './palette';
import { Raster, solid } from './raster';
import type { CameraParams, SceneParams } from './cameras';

/** Width of a scene strip in image widths; an image pans over [0, STRIP - 1]. */
export const SCENE_STRIP = 5;

interface SceneItem {
  kind: 'facade' | 'paving' | 'window' | 'tree' | 'bush' | 'sign' | 'door' | 'shelf' | 'plant' | 'lamp' | 'poster' | 'light';
  /** Position and size in image-width units (x) and image-height units (y). */
  x: number;
  y: number;
  w: number;
  h: number;
  color: Rgb;
  color2: Rgb;
}

const WALL_TINTS: readonly Rgb[] = [
  [0.7, 0.68, 0.62], [0.55, 0.5, 0.45], [0.62, 0.42, 0.35], [0.45, 0.47, 0.5], [0.78, 0.75, 0.7], [0.5, 0.55, 0.45], [0.35, 0.33, 0.32],
];

const FLOOR_TINTS: readonly Rgb[] = [
  [0.5, 0.5, 0.5], [0.62, 0.58, 0.52], [0.38, 0.38, 0.4], [0.55, 0.45, 0.38], [0.4, 0.48, 0.32], [0.7, 0.68, 0.64], [0.3, 0.28, 0.27],
];

const layoutCache = new Map<string, SceneItem[]>();

function shadeRgb(c: Rgb, f: number): Rgb {
  return [clamp01(c[0] * f), clamp01(c[1] * f), clamp01(c[2] * f)];
}

const SIGN_COLORS: readonly Rgb[] = [
  [0.8, 0.15, 0.12], [0.15, 0.3, 0.75], [0.95, 0.8, 0.2], [0.2, 0.6, 0.3], [0.95, 0.95, 0.92], [0.9, 0.5, 0.15], [0.5, 0.2, 0.6],
];

function layout(scene: SceneParams): SceneItem[] {
  const key = JSON.stringify(scene);
  const hit = layoutCache.get(key);
  if (hit) return hit;
  const prng = new Prng(scene.layoutSeed);
  const items: SceneItem[] = [];
  const count = Math.round(scene.clutter * SCENE_STRIP * 2);
  const hz = scene.horizon;
  const outdoor = scene.kind === 'street' || scene.kind === 'park' || scene.kind === 'plaza';
  // Backdrop segments (buildings, shop fronts, wall panels) of varied colour, so the background
  // changes along the strip and does not stamp one colour on every image of the camera.
  for (let x = -0.5; x < SCENE_STRIP + 1; ) {
    const w = prng.uniform(0.5, 1.4);
    const f = prng.uniform(0.55, 1.35);
    const base = prng.bool(0.25) ? scene.wallColor : prng.pick(WALL_TINTS);
    const c: Rgb = [clamp01(base[0] * f + prng.uniform(-0.08, 0.08)), clamp01(base[1] * f + prng.uniform(-0.08, 0.08)), clamp01(base[2] * f + prng.uniform(-0.08, 0.08))];
    items.push({ kind: 'facade', x, y: 0, w, h: hz, color: c, color2: scene.detailColor });
    x += w;
  }
  // Floor segments likewise (paving, mats, grass verges, tiles of another colour).
  for (let x = -0.5; x < SCENE_STRIP + 1; ) {
    const w = prng.uniform(0.6, 1.6);
    const f = prng.uniform(0.7, 1.25);
    const base = prng.bool(0.35) ? scene.floorColor : prng.pick(FLOOR_TINTS);
    const c: Rgb = [clamp01(base[0] * f + prng.uniform(-0.05, 0.05)), clamp01(base[1] * f + prng.uniform(-0.05, 0.05)), clamp01(base[2] * f + prng.uniform(-0.05, 0.05))];
    items.push({ kind: 'paving', x, y: hz, w, h: 1 - hz, color: c, color2: c });
    x += w;
  }
  for (let i = 0; i < count; i++) {
    const x = prng.uniform(0, SCENE_STRIP);
    const r = prng.next();
    const c2 = prng.pick(SIGN_COLORS);
    if (outdoor) {
      if (scene.kind === 'park' && r < 0.45) {
        items.push({ kind: 'tree', x, y: hz * prng.uniform(0.2, 0.6), w: prng.uniform(0.4, 0.9), h: hz * prng.uniform(0.5, 0.9), color: shadeRgb([0.2, 0.42, 0.16], prng.uniform(0.7, 1.2)), color2: [0.3, 0.22, 0.14] });
      } else if (r < 0.6) {
        items.push({ kind: 'window', x, y: hz * prng.uniform(0.05, 0.4), w: prng.uniform(0.2, 0.35), h: hz * prng.uniform(0.25, 0.45), color: shadeRgb([0.35, 0.42, 0.5], prng.uniform(0.6, 1.3)), color2: scene.detailColor });
      } else if (r < 0.75) {
        items.push({ kind: 'bush', x, y: hz, w: prng.uniform(0.4, 0.9), h: prng.uniform(0.08, 0.16), color: shadeRgb([0.22, 0.4, 0.18], prng.uniform(0.7, 1.2)), color2: [0.15, 0.3, 0.12] });
      } else if (r < 0.9) {
        items.push({ kind: 'sign', x, y: hz * prng.uniform(0.1, 0.6), w: prng.uniform(0.2, 0.5), h: prng.uniform(0.06, 0.12), color: c2, color2: [0.95, 0.95, 0.95] });
      } else {
        items.push({ kind: 'door', x, y: hz * 0.2, w: prng.uniform(0.25, 0.4), h: hz * 0.8, color: shadeRgb(scene.detailColor, prng.uniform(0.6, 1.1)), color2: [0.2, 0.2, 0.2] });
      }
    } else if (r < 0.3) {
      items.push({ kind: 'shelf', x, y: hz * prng.uniform(0.1, 0.3), w: prng.uniform(0.4, 0.8), h: hz * prng.uniform(0.6, 0.9), color: scene.detailColor, color2: c2 });
    } else if (r < 0.45) {
      items.push({ kind: 'poster', x, y: hz * prng.uniform(0.1, 0.5), w: prng.uniform(0.15, 0.3), h: hz * prng.uniform(0.2, 0.4), color: c2, color2: prng.pick(SIGN_COLORS) });
    } else if (r < 0.6) {
      items.push({ kind: 'door', x, y: hz * 0.15, w: prng.uniform(0.25, 0.4), h: hz * 0.85, color: shadeRgb(scene.detailColor, prng.uniform(0.8, 1.3)), color2: [0.75, 0.75, 0.7] });
    } else if (r < 0.75) {
      items.push({ kind: 'plant', x, y: hz, w: prng.uniform(0.15, 0.3), h: prng.uniform(0.15, 0.3), color: [0.2, 0.42, 0.18], color2: [0.45, 0.3, 0.2] });
    } else {
      items.push({ kind: 'light', x, y: 0, w: prng.uniform(0.3, 0.6), h: 0.04, color: [1, 0.98, 0.9], color2: [1, 1, 1] });
    }
  }
  if (scene.kind === 'street' || scene.kind === 'plaza') {
    for (let i = 0; i < SCENE_STRIP * 2; i++) {
      if (prng.bool(0.4)) items.push({ kind: 'lamp', x: prng.uniform(0, SCENE_STRIP), y: 0, w: 0.04, h: hz + 0.05, color: [0.22, 0.22, 0.24], color2: [0.3, 0.3, 0.3] });
    }
  }
  layoutCache.set(key, items);
  return items;
}

/** Draw the camera's scene as seen behind a box panned to `pan` (image widths into the strip). */
export function drawBackground(r: Raster, camera: CameraParams, pan: number, lightVariation: number): void {
  const s = camera.scene;
  const W = r.width, H = r.height;
  const hzY = s.horizon * H;
  const wall = shadeRgb(s.wallColor, lightVariation);
  const floor = shadeRgb(s.floorColor, lightVariation);
  r.fillRect(0, 0, W, hzY, solid(wall));
  r.fillRect(0, hzY, W, H, solid(floor));
  const items = layout(s);
  for (const it of items) {
    if (it.kind !== 'facade' && it.kind !== 'paving') continue;
    const x0 = (it.x - pan) * W;
    const x1 = x0 + it.w * W;
    if (x1 < 0 || x0 > W) continue;
    if (it.kind === 'facade') r.fillRect(x0, 0, x1, hzY, solid(shadeRgb(it.color, lightVariation)));
    else r.fillRect(x0, hzY, x1, H, solid(shadeRgb(it.color, lightVariation)));
  }
  // Floor texture: perspective-spaced joints and a few longitudinal ones.
  if (s.texture > 0) {
    const line = solid([0, 0, 0], 0.4 * s.texture);
    let y = hzY + 3;
    let step = 3;
    while (y < H) {
      r.fillRect(0, y, W, y + 0.7, line);
      step *= 1.35;
      y += step;
    }
    const tile = (s.kind === 'street' ? 0.55 : 0.35) * W;
    const off = -((pan * W) % tile);
    for (let x = off; x < W; x += tile) r.fillRect(x, hzY, x + 0.8, H, line);
  }
  // Scene objects within view.
  for (const it of items) {
    const x0 = (it.x - pan) * W;
    const x1 = x0 + it.w * W;
    if (x1 < -2 || x0 > W + 2) continue;
    const y0 = it.y * H;
    const h = it.h * H;
    switch (it.kind) {
      case 'facade':
      case 'paving':
        break;
      case 'window':
        r.fillRect(x0 - 1, y0 - 1, x1 + 1, y0 + h + 1, solid(it.color2));
        r.fillRect(x0, y0, x1, y0 + h, solid(it.color));
        r.fillRect((x0 + x1) / 2 - 0.5, y0, (x0 + x1) / 2 + 0.5, y0 + h, solid(it.color2));
        break;
      case 'tree':
        r.fillRect((x0 + x1) / 2 - 1.5, y0 + h * 0.5, (x0 + x1) / 2 + 1.5, hzY + 2, solid(it.color2));
        r.fillEllipse((x0 + x1) / 2, y0 + h * 0.4, (x1 - x0) / 2, h * 0.45, solid(it.color));
        break;
      case 'bush':
        r.fillEllipse((x0 + x1) / 2, hzY, (x1 - x0) / 2, h, solid(it.color));
        break;
      case 'sign':
      case 'poster':
        r.fillRect(x0, y0, x1, y0 + h, solid(it.color));
        r.fillRect(x0 + (x1 - x0) * 0.15, y0 + h * 0.35, x1 - (x1 - x0) * 0.15, y0 + h * 0.6, solid(it.color2));
        break;
      case 'door':
        r.fillRect(x0, y0, x1, hzY, solid(it.color));
        r.fillRect(x1 - (x1 - x0) * 0.2, y0 + h * 0.5, x1 - (x1 - x0) * 0.12, y0 + h * 0.56, solid(it.color2));
        break;
      case 'shelf': {
        r.fillRect(x0, y0, x1, hzY, solid(it.color));
        const rows = 4;
        for (let k = 0; k < rows; k++) {
          const yy = y0 + ((hzY - y0) * (k + 0.2)) / rows;
          r.fillRect(x0 + 1, yy, x1 - 1, yy + (hzY - y0) / rows * 0.55, solid(k % 2 === 0 ? it.color2 : shadeRgb(it.color2, 0.6)));
        }
        break;
      }
      case 'plant':
        r.fillRect((x0 + x1) / 2 - 2, hzY - h * 0.1, (x0 + x1) / 2 + 2, hzY + h * 0.2, solid(it.color2));
        r.fillEllipse((x0 + x1) / 2, hzY - h * 0.3, (x1 - x0) / 2, h * 0.4, solid(it.color));
        break;
      case 'lamp':
        r.fillRect(x0, 0, x0 + 1.6, hzY + 0.05 * H, solid(it.color));
        break;
      case 'light':
        r.fillRect(x0, 0, x1, 2.5, solid(it.color));
        break;
    }
  }
}

const OBJECT_COLORS: readonly Rgb[] = [
  [0.25, 0.3, 0.25], [0.5, 0.5, 0.52], [0.6, 0.45, 0.3], [0.15, 0.2, 0.45], [0.7, 0.15, 0.1], [0.85, 0.85, 0.82], [0.12, 0.12, 0.12],
];

/** A pole in front of the person (lamp post, column, railing post). */
export function drawPole(r: Raster, prng: Prng): void {
  const x = prng.uniform(0.05, 0.95) * r.width;
  const w = prng.uniform(2.5, 7);
  const c = prng.pick(OBJECT_COLORS);
  r.fillRect(x - w / 2, 0, x + w / 2, r.height, { color: c, shadeCx: x, shadeHalfWidth: w / 2, shadeAmount: 0.35 });
}

/** An object in the foreground at the bottom of the box (bin, bench, box, car bonnet). */
export function drawObject(r: Raster, prng: Prng): void {
  const W = r.width, H = r.height;
  const h = prng.uniform(0.18, 0.42) * H;
  const w = prng.uniform(0.3, 0.8) * W;
  const cx = prng.uniform(0, 1) * W;
  const c = prng.pick(OBJECT_COLORS);
  const kind = prng.int(0, 2);
  if (kind === 0) {
    r.fillRect(cx - w / 2, H - h, cx + w / 2, H, { color: c, shadeCx: cx, shadeHalfWidth: w / 2, shadeAmount: 0.3 });
    r.fillRect(cx - w / 2 - 1, H - h, cx + w / 2 + 1, H - h + 2, solid(shadeRgb(c, 0.7)));
  } else if (kind === 1) {
    r.fillEllipse(cx, H, w / 2, h, solid(c));
    r.fillEllipse(cx, H - h * 0.55, w * 0.3, h * 0.18, solid(shadeRgb(c, 1.3)));
  } else {
    // Bench / railing: bars at two heights.
    r.fillRect(cx - w / 2, H - h, cx + w / 2, H - h + 2.5, solid(c));
    r.fillRect(cx - w / 2, H - h * 0.55, cx + w / 2, H - h * 0.55 + 2.5, solid(c));
    r.fillRect(cx - w / 2, H - h, cx - w / 2 + 2, H, solid(c));
    r.fillRect(cx + w / 2 - 2, H - h, cx + w / 2, H, solid(c));
  }
}
