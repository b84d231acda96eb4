/**
 * The pool's cameras: domain randomisation instead of a camera network.
 *
 * Tier P has no fixed cameras. Every visit of a person to a camera (the file name's c1..c6 is
 * the visit's slot, so Market-1501 parsers read it unchanged) gets its own camera: viewpoint
 * mix, illumination, white balance, hue, tone, saturation, resolution, blur, noise, occlusion,
 * detector behaviour, each drawn uniformly from the wide ranges below, and one of
 * POOL_SCENE_COUNT pool scenes, themselves drawn at random. The ranges contain both domains'
 * camera parameters (see docs/pool.md), so pre-training sees conditions like the target's,
 * but never the target's cameras or scenes: those are hand-set in cameras.ts, and a pool camera
 * is a random draw from its own seed space (test/unit/synth-pool.test.ts checks the distance).
 */
import type { Prng } from '../../util/prng';
import { clamp01 } from './detmath';
import type { Rgb } from './palette';
import type { CameraParams, SceneKind, SceneParams } from './cameras';

type Range = readonly [number, number];

/** Every randomised camera parameter's [min, max]; each is drawn uniformly. */
export const POOL_CAMERA_RANGES = {
  gain: [0.45, 1.4],
  /** Red and blue white-balance multipliers (drawn independently); green is POOL_CAMERA_RANGES.whiteBalanceG. */
  whiteBalanceRB: [0.75, 1.22],
  whiteBalanceG: [0.94, 1.06],
  hueShift: [-0.06, 0.06],
  tone: [-0.15, 0.25],
  saturation: [0.6, 1.25],
  noise: [0, 0.07],
  blur: [0, 1.6],
  resolution: [0.35, 1],
  personScale: [0.84, 0.96],
  occlusionRate: [0, 0.4],
  boxJitter: [0.03, 0.1],
  truncationRate: [0.02, 0.15],
  /** Each of front, back and side view weights, and each of pole, object and person occluder weights. */
  mixWeight: [0.1, 1],
  horizon: [0.3, 0.65],
  texture: [0, 0.45],
  clutter: [0.6, 1.8],
  /** Wall and floor brightness; each channel then moves by up to ±sceneTint. */
  wallLevel: [0.2, 0.8],
  floorLevel: [0.2, 0.7],
  sceneTint: [0, 0.15],
} as const satisfies Record<string, Range>;

/** Scenes the pool's cameras pick from (each a fixed layout, like a domain camera's scene). */
export const POOL_SCENE_COUNT = 256;
/** Camera slots c1..c6: a person visits at most this many cameras. */
export const POOL_MAX_SLOTS = 6;

const SCENE_KINDS: readonly SceneKind[] = ['street', 'park', 'plaza', 'corridor', 'shop', 'lobby'];

function draw(prng: Prng, r: Range): number {
  return prng.uniform(r[0], r[1]);
}

function tinted(prng: Prng, level: Range): Rgb {
  const l = draw(prng, level);
  const t = POOL_CAMERA_RANGES.sceneTint[1];
  return [clamp01(l + prng.uniform(-t, t)), clamp01(l + prng.uniform(-t, t)), clamp01(l + prng.uniform(-t, t))];
}

function sampleScene(prng: Prng): SceneParams {
  const R = POOL_CAMERA_RANGES;
  return {
    kind: prng.pick(SCENE_KINDS),
    horizon: draw(prng, R.horizon),
    wallColor: tinted(prng, R.wallLevel),
    floorColor: tinted(prng, R.floorLevel),
    detailColor: [prng.uniform(0.1, 0.9), prng.uniform(0.1, 0.9), prng.uniform(0.1, 0.9)],
    texture: draw(prng, R.texture),
    clutter: draw(prng, R.clutter),
    // A full 32-bit layout seed: the domains' hand-set seeds are 101-106 and 201-205.
    layoutSeed: prng.nextU32(),
  };
}

/** The pool's scene library, from the pool's root PRNG. */
export function poolScenes(root: Prng): SceneParams[] {
  const prng = root.fork('scenes');
  return Array.from({ length: POOL_SCENE_COUNT }, () => sampleScene(prng));
}

/** One randomised camera with id `slot`, from `prng`. */
export function samplePoolCamera(prng: Prng, slot: number, scenes: readonly SceneParams[]): CameraParams {
  const R = POOL_CAMERA_RANGES;
  const mix3 = (): [number, number, number] => [draw(prng, R.mixWeight), draw(prng, R.mixWeight), draw(prng, R.mixWeight)];
  return {
    id: slot,
    viewMix: mix3(),
    gain: draw(prng, R.gain),
    whiteBalance: [draw(prng, R.whiteBalanceRB), draw(prng, R.whiteBalanceG), draw(prng, R.whiteBalanceRB)],
    hueShift: draw(prng, R.hueShift),
    tone: draw(prng, R.tone),
    saturation: draw(prng, R.saturation),
    noise: draw(prng, R.noise),
    blur: draw(prng, R.blur),
    resolution: draw(prng, R.resolution),
    personScale: draw(prng, R.personScale),
    scene: scenes[prng.int(0, scenes.length - 1)],
    occlusionRate: draw(prng, R.occlusionRate),
    occluderMix: mix3(),
    boxJitter: draw(prng, R.boxJitter),
    truncationRate: draw(prng, R.truncationRate),
  };
}

/**
 * The camera of one visit: person `pid` in slot `slot` (distractors and junk use their own
 * keys). Keyed by a fork, so it does not depend on which other visits were planned.
 */
export function poolVisitCamera(root: Prng, key: string, slot: number, scenes: readonly SceneParams[]): CameraParams {
  return samplePoolCamera(root.fork(`camera/${key}`), slot, scenes);
}
