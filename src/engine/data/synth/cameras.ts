/**
 * Camera networks of the two SynthReID domains, and the domain-shift knob.
 *
 * Every camera has its own viewpoint mix, illumination, white balance, colour response,
 * saturation, noise, blur, effective resolution, scene, occlusion and detector behaviour: the
 * same person looks different from camera to camera, as in Market-1501. 'source' is an outdoor
 * daylight network of 6 cameras; 'target' an indoor evening network of 5 cameras (dimmer,
 * tungsten/fluorescent light, lower resolution, more noise). `shift` in [0, 1] interpolates the
 * target's cameras from the source's: 0 gives target camera k exactly source camera k's
 * parameters, 1 the target network as designed.
 */
import { LabError } from '../../errors';
import { mix } from './detmath';
import { POOL_MAX_SLOTS } from './pool-cameras';
import type { Rgb } from './palette';
import type { SynthDomain } from './identities';

export type SceneKind = 'street' | 'park' | 'plaza' | 'corridor' | 'shop' | 'lobby';

export interface SceneParams {
  kind: SceneKind;
  /** Where the ground starts, as a fraction of image height. */
  horizon: number;
  wallColor: Rgb;
  floorColor: Rgb;
  /** Colour of scene details (window frames, tile lines, shelves). */
  detailColor: Rgb;
  /** Contrast of the floor texture (tiles, paving) in [0, 1]. */
  texture: number;
  /** Background objects per image width. */
  clutter: number;
  /** Seed of the fixed layout of this camera's scene. */
  layoutSeed: number;
}

export interface CameraParams {
  /** 1-based camera id (c1..c6). */
  id: number;
  /** Relative frequency of front, back and side views. */
  viewMix: readonly [number, number, number];
  /** Illumination gain (1 = nominal daylight exposure). */
  gain: number;
  /** Per-channel white balance multipliers. */
  whiteBalance: Rgb;
  /** Hue rotation of the sensor's colour response, as a fraction of a channel (−0.2..0.2). */
  hueShift: number;
  /** Mid-tone curve y = x + tone * x * (1 - x) (positive brightens shadows, negative crushes them). */
  tone: number;
  saturation: number;
  /** Sensor noise standard deviation, in [0, 1] pixel units. */
  noise: number;
  /** Optical blur in pixels (0 sharp, ~2 very soft). */
  blur: number;
  /** Effective resolution: the image is captured at this fraction of 128x64 and upscaled. */
  resolution: number;
  /** Mean person height as a fraction of the box height (detector tightness). */
  personScale: number;
  scene: SceneParams;
  /** Probability that an image has an occluder, and the mix of pole, object, other person. */
  occlusionRate: number;
  occluderMix: readonly [number, number, number];
  /** Standard deviation of the detector box offset/scale, as a fraction of the box. */
  boxJitter: number;
  /** Probability that the box cuts off part of the person. */
  truncationRate: number;
}

function cam(p: CameraParams): CameraParams {
  return p;
}

const SOURCE_CAMERAS: readonly CameraParams[] = [
  cam({
    id: 1, viewMix: [0.6, 0.2, 0.2], gain: 1.02, whiteBalance: [1, 1, 1], hueShift: 0, tone: 0.05, saturation: 1.0,
    noise: 0.012, blur: 0.3, resolution: 1.0, personScale: 0.91,
    scene: { kind: 'street', horizon: 0.42, wallColor: [0.62, 0.55, 0.48], floorColor: [0.5, 0.5, 0.5], detailColor: [0.3, 0.32, 0.36], texture: 0.25, clutter: 1.2, layoutSeed: 101 },
    occlusionRate: 0.15, occluderMix: [0.4, 0.3, 0.3], boxJitter: 0.04, truncationRate: 0.06,
  }),
  cam({
    id: 2, viewMix: [0.2, 0.2, 0.6], gain: 1.08, whiteBalance: [1.04, 1, 0.94], hueShift: 0.02, tone: 0.08, saturation: 1.1,
    noise: 0.01, blur: 0.2, resolution: 0.9, personScale: 0.89,
    scene: { kind: 'park', horizon: 0.5, wallColor: [0.3, 0.45, 0.22], floorColor: [0.62, 0.58, 0.5], detailColor: [0.2, 0.35, 0.15], texture: 0.15, clutter: 1.5, layoutSeed: 102 },
    occlusionRate: 0.12, occluderMix: [0.3, 0.3, 0.4], boxJitter: 0.05, truncationRate: 0.05,
  }),
  cam({
    id: 3, viewMix: [0.2, 0.6, 0.2], gain: 0.9, whiteBalance: [0.95, 1, 1.06], hueShift: -0.02, tone: 0.0, saturation: 0.9,
    noise: 0.02, blur: 0.6, resolution: 0.75, personScale: 0.93,
    scene: { kind: 'plaza', horizon: 0.35, wallColor: [0.72, 0.7, 0.66], floorColor: [0.58, 0.52, 0.46], detailColor: [0.45, 0.3, 0.25], texture: 0.35, clutter: 0.9, layoutSeed: 103 },
    occlusionRate: 0.2, occluderMix: [0.3, 0.4, 0.3], boxJitter: 0.06, truncationRate: 0.08,
  }),
  cam({
    id: 4, viewMix: [0.4, 0.4, 0.2], gain: 1.0, whiteBalance: [0.97, 1.03, 0.97], hueShift: 0.03, tone: -0.08, saturation: 0.93,
    noise: 0.02, blur: 0.4, resolution: 0.8, personScale: 0.90,
    scene: { kind: 'street', horizon: 0.55, wallColor: [0.45, 0.42, 0.44], floorColor: [0.35, 0.35, 0.37], detailColor: [0.8, 0.8, 0.75], texture: 0.4, clutter: 1.4, layoutSeed: 104 },
    occlusionRate: 0.3, occluderMix: [0.6, 0.2, 0.2], boxJitter: 0.05, truncationRate: 0.07,
  }),
  cam({
    id: 5, viewMix: [0.3, 0.2, 0.5], gain: 0.95, whiteBalance: [1.02, 1, 0.98], hueShift: -0.01, tone: 0.05, saturation: 1.04,
    noise: 0.025, blur: 0.8, resolution: 0.65, personScale: 0.88,
    scene: { kind: 'plaza', horizon: 0.45, wallColor: [0.55, 0.35, 0.3], floorColor: [0.66, 0.64, 0.6], detailColor: [0.25, 0.25, 0.3], texture: 0.2, clutter: 1.0, layoutSeed: 105 },
    occlusionRate: 0.18, occluderMix: [0.3, 0.3, 0.4], boxJitter: 0.06, truncationRate: 0.1,
  }),
  cam({
    id: 6, viewMix: [0.35, 0.35, 0.3], gain: 1.12, whiteBalance: [1, 1.01, 1.03], hueShift: 0.0, tone: 0.12, saturation: 0.85,
    noise: 0.03, blur: 0.7, resolution: 0.55, personScale: 0.92,
    scene: { kind: 'park', horizon: 0.4, wallColor: [0.4, 0.5, 0.3], floorColor: [0.45, 0.47, 0.42], detailColor: [0.6, 0.55, 0.45], texture: 0.3, clutter: 1.3, layoutSeed: 106 },
    occlusionRate: 0.2, occluderMix: [0.4, 0.3, 0.3], boxJitter: 0.07, truncationRate: 0.1,
  }),
];

const TARGET_CAMERAS: readonly CameraParams[] = [
  cam({
    id: 1, viewMix: [0.5, 0.3, 0.2], gain: 0.7, whiteBalance: [0.95, 1.03, 0.97], hueShift: 0.03, tone: 0.1, saturation: 0.82,
    noise: 0.035, blur: 0.8, resolution: 0.55, personScale: 0.91,
    scene: { kind: 'corridor', horizon: 0.5, wallColor: [0.7, 0.72, 0.66], floorColor: [0.42, 0.4, 0.36], detailColor: [0.3, 0.3, 0.32], texture: 0.3, clutter: 0.8, layoutSeed: 201 },
    occlusionRate: 0.2, occluderMix: [0.2, 0.3, 0.5], boxJitter: 0.06, truncationRate: 0.08,
  }),
  cam({
    id: 2, viewMix: [0.3, 0.2, 0.5], gain: 0.65, whiteBalance: [1.12, 0.99, 0.8], hueShift: -0.02, tone: 0.15, saturation: 0.88,
    noise: 0.04, blur: 0.7, resolution: 0.6, personScale: 0.89,
    scene: { kind: 'shop', horizon: 0.55, wallColor: [0.8, 0.78, 0.7], floorColor: [0.6, 0.55, 0.45], detailColor: [0.55, 0.2, 0.15], texture: 0.2, clutter: 1.6, layoutSeed: 202 },
    occlusionRate: 0.3, occluderMix: [0.2, 0.5, 0.3], boxJitter: 0.07, truncationRate: 0.1,
  }),
  cam({
    id: 3, viewMix: [0.25, 0.5, 0.25], gain: 0.55, whiteBalance: [1.06, 1, 0.88], hueShift: 0.0, tone: 0.2, saturation: 0.75,
    noise: 0.05, blur: 1.0, resolution: 0.5, personScale: 0.93,
    scene: { kind: 'lobby', horizon: 0.45, wallColor: [0.5, 0.4, 0.32], floorColor: [0.3, 0.26, 0.24], detailColor: [0.85, 0.8, 0.6], texture: 0.25, clutter: 1.0, layoutSeed: 203 },
    occlusionRate: 0.25, occluderMix: [0.3, 0.3, 0.4], boxJitter: 0.07, truncationRate: 0.1,
  }),
  cam({
    id: 4, viewMix: [0.4, 0.3, 0.3], gain: 0.75, whiteBalance: [0.92, 0.98, 1.08], hueShift: 0.02, tone: 0.05, saturation: 0.85,
    noise: 0.03, blur: 0.6, resolution: 0.65, personScale: 0.90,
    scene: { kind: 'corridor', horizon: 0.6, wallColor: [0.55, 0.6, 0.65], floorColor: [0.5, 0.5, 0.52], detailColor: [0.2, 0.22, 0.25], texture: 0.35, clutter: 1.1, layoutSeed: 204 },
    occlusionRate: 0.2, occluderMix: [0.4, 0.2, 0.4], boxJitter: 0.06, truncationRate: 0.08,
  }),
  cam({
    id: 5, viewMix: [0.3, 0.3, 0.4], gain: 0.6, whiteBalance: [1.15, 0.97, 0.78], hueShift: -0.02, tone: 0.2, saturation: 0.78,
    noise: 0.05, blur: 1.1, resolution: 0.45, personScale: 0.92,
    scene: { kind: 'shop', horizon: 0.4, wallColor: [0.62, 0.5, 0.4], floorColor: [0.36, 0.3, 0.28], detailColor: [0.2, 0.4, 0.6], texture: 0.3, clutter: 1.4, layoutSeed: 205 },
    occlusionRate: 0.3, occluderMix: [0.2, 0.4, 0.4], boxJitter: 0.08, truncationRate: 0.12,
  }),
];

/** Cameras of a domain; for the pool, the number of camera slots a person can visit. */
export function domainCameraCount(domain: SynthDomain): number {
  return domain === 'source' ? SOURCE_CAMERAS.length : domain === 'target' ? TARGET_CAMERAS.length : POOL_MAX_SLOTS;
}

function mixRgb(a: Rgb, b: Rgb, t: number): Rgb {
  return [mix(a[0], b[0], t), mix(a[1], b[1], t), mix(a[2], b[2], t)];
}

function mix3(a: readonly [number, number, number], b: readonly [number, number, number], t: number): [number, number, number] {
  return [mix(a[0], b[0], t), mix(a[1], b[1], t), mix(a[2], b[2], t)];
}

/**
 * Camera b's parameters moved a fraction t of the way from camera a's: continuous parameters
 * interpolate linearly (exact at both ends); the scene's kind and layout, which cannot be
 * blended, switch to b's at t >= 0.5.
 */
export function interpolateCamera(a: CameraParams, b: CameraParams, t: number): CameraParams {
  const discrete = t >= 0.5 ? b.scene : a.scene;
  return {
    id: b.id,
    viewMix: mix3(a.viewMix, b.viewMix, t),
    gain: mix(a.gain, b.gain, t),
    whiteBalance: mixRgb(a.whiteBalance, b.whiteBalance, t),
    hueShift: mix(a.hueShift, b.hueShift, t),
    tone: mix(a.tone, b.tone, t),
    saturation: mix(a.saturation, b.saturation, t),
    noise: mix(a.noise, b.noise, t),
    blur: mix(a.blur, b.blur, t),
    resolution: mix(a.resolution, b.resolution, t),
    personScale: mix(a.personScale, b.personScale, t),
    scene: {
      kind: discrete.kind,
      layoutSeed: discrete.layoutSeed,
      horizon: mix(a.scene.horizon, b.scene.horizon, t),
      wallColor: mixRgb(a.scene.wallColor, b.scene.wallColor, t),
      floorColor: mixRgb(a.scene.floorColor, b.scene.floorColor, t),
      detailColor: mixRgb(a.scene.detailColor, b.scene.detailColor, t),
      texture: mix(a.scene.texture, b.scene.texture, t),
      clutter: mix(a.scene.clutter, b.scene.clutter, t),
    },
    occlusionRate: mix(a.occlusionRate, b.occlusionRate, t),
    occluderMix: mix3(a.occluderMix, b.occluderMix, t),
    boxJitter: mix(a.boxJitter, b.boxJitter, t),
    truncationRate: mix(a.truncationRate, b.truncationRate, t),
  };
}

/** The camera network of a domain; for 'target', `shift` in [0, 1] (default 1) blends from the source's. */
export function cameraNetwork(domain: SynthDomain, shift = 1): CameraParams[] {
  if (!(shift >= 0 && shift <= 1)) {
    throw new LabError('bad-argument', `The domain shift strength must be a number from 0 to 1; got ${shift}.`);
  }
  if (domain === 'pool') {
    throw new LabError('bad-argument', 'The pool has no camera network: each visit of a person draws its own camera (see pool-cameras.ts).');
  }
  if (domain === 'source') return SOURCE_CAMERAS.map((c) => structuredClone(c) as CameraParams);
  return TARGET_CAMERAS.map((t, k) => interpolateCamera(SOURCE_CAMERAS[k], t, shift));
}

/** The source camera a target camera is interpolated from (the shift knob's t = 0 end). */
export function sourceCameraFor(targetCameraId: number): CameraParams {
  return structuredClone(SOURCE_CAMERAS[targetCameraId - 1]) as CameraParams;
}
