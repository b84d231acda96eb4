/**
 * Rendering one SynthReID image: scene behind the detector box, the person in a walking pose
 * and a view drawn from the camera's mix, occluders, detector jitter and truncation, then the
 * camera's capture pipeline. Everything random comes from a PRNG forked by the image's key, so
 * an image depends only on (seed, domain, shift, person, camera, index), not on which other
 * images were rendered before it.
 */
import type { Prng } from '../../util/prng';
import { gauss } from './detmath';
import { sampleStranger, type Identity, type SynthDomain } from './identities';
import { drawPerson, type Pose, type View } from './person';
import { Raster } from './raster';
import { drawBackground, drawObject, drawPole, SCENE_STRIP } from './scene';
import { captureImage } from './camera-pipeline';
import type { CameraParams } from './cameras';

/** What kind of detection an image is: a clean person box, a distractor, or junk (bad box). */
export type ImageKind = 'person' | 'distractor' | 'junk';

export interface RenderContext {
  domain: SynthDomain;
  cameras: readonly CameraParams[];
  height: number;
  width: number;
  /** The dataset's root PRNG (seeded); images fork from it. */
  root: Prng;
}

export interface RenderRequest {
  person: Identity | null;
  camera: number;
  kind: ImageKind;
  /** Unique key of the image, e.g. "img/2/3/1" (pid, camera, index). */
  key: string;
  /** This image's own camera, where the dataset has no fixed network (the pool); else ctx.cameras[camera - 1]. */
  cameraParams?: CameraParams;
}

const VIEWS: readonly View[] = ['front', 'back', 'side'];

/**
 * A person's usual direction through a camera's field of view: people pass a camera mostly
 * one way, so one (person, camera) pair has a dominant view.
 */
function dominantView(ctx: RenderContext, pid: number, cam: CameraParams): { view: View; facing: 1 | -1 } {
  const p = ctx.root.fork(`view/${pid}/${cam.id}`);
  const view = VIEWS[p.weighted([...cam.viewMix])];
  return { view, facing: p.bool() ? 1 : -1 };
}

function pickView(ctx: RenderContext, prng: Prng, person: Identity, cam: CameraParams): { view: View; facing: 1 | -1 } {
  if (person.pid > 0 && prng.bool(0.7)) return dominantView(ctx, person.pid, cam);
  return { view: VIEWS[prng.weighted([...cam.viewMix])], facing: prng.bool() ? 1 : -1 };
}

/** Render an image into `out` (height*width*3 bytes). */
export function renderImage(ctx: RenderContext, req: RenderRequest, out: Uint8Array): void {
  const { height: h, width: w } = ctx;
  const cam = req.cameraParams ?? ctx.cameras[req.camera - 1];
  const prng = ctx.root.fork(req.key);
  const r = new Raster(w, h);
  const pan = prng.uniform(0, SCENE_STRIP - 1);
  const light = 1 + 0.1 * gauss(prng);
  drawBackground(r, cam, pan, light);

  // Someone walking further back (behind the person).
  if (prng.bool(cam.occlusionRate * 0.4)) {
    const other = sampleStranger(prng.fork('behind'), ctx.domain);
    const oh = h * cam.personScale * other.body.height * prng.uniform(0.75, 0.9);
    drawPerson(r, other, {
      view: VIEWS[prng.int(0, 2)], facing: prng.bool() ? 1 : -1, phase: prng.next(),
      cx: w * (prng.bool() ? prng.uniform(-0.1, 0.2) : prng.uniform(0.8, 1.1)), top: h * prng.uniform(0.0, 0.1), height: oh, light: light * 0.9,
    });
  }

  if (req.person) {
    const person = req.person;
    const { view, facing } = pickView(ctx, prng, person, cam);
    const jit = cam.boxJitter;
    let height = h * cam.personScale * person.body.height * (1 + 0.6 * jit * gauss(prng));
    let cx = w * (0.5 + jit * gauss(prng));
    let top = (h - height) * 0.5 + h * 0.5 * jit * gauss(prng);
    const truncate = req.kind === 'junk' || prng.bool(cam.truncationRate * (req.kind === 'distractor' ? 3 : 1));
    if (truncate) {
      const heavy = req.kind === 'junk';
      const mode = prng.int(0, 3);
      if (mode === 0) top += height * (heavy ? prng.uniform(0.4, 0.7) : prng.uniform(0.1, 0.25));
      else if (mode === 1) top -= height * (heavy ? prng.uniform(0.45, 0.7) : prng.uniform(0.08, 0.2));
      else if (mode === 2) cx += w * (prng.bool() ? 1 : -1) * (heavy ? prng.uniform(0.45, 0.7) : prng.uniform(0.2, 0.3));
      else {
        const z = heavy ? prng.uniform(1.6, 2.2) : prng.uniform(1.15, 1.35);
        top -= height * (z - 1) * prng.uniform(0.2, 0.8);
        height *= z;
      }
    }
    const pose: Pose = { view, facing, phase: prng.next(), cx, top, height, light: light * (1 + 0.04 * gauss(prng)) };
    drawPerson(r, person, pose);
  }

  // Occluders in front.
  if (prng.bool(cam.occlusionRate) || (req.kind === 'junk' && !req.person)) {
    const kind = prng.weighted([...cam.occluderMix]);
    if (kind === 0) drawPole(r, prng);
    else if (kind === 1) drawObject(r, prng);
    else {
      const other = sampleStranger(prng.fork('front'), ctx.domain);
      const side = prng.bool() ? 1 : -1;
      const oh = h * cam.personScale * other.body.height * prng.uniform(0.95, 1.15);
      drawPerson(r, other, {
        view: VIEWS[prng.int(0, 2)], facing: prng.bool() ? 1 : -1, phase: prng.next(),
        cx: w * (0.5 + side * prng.uniform(0.42, 0.7)), top: (h - oh) * 0.5 + h * 0.04 * gauss(prng), height: oh, light,
      });
    }
  }

  captureImage(r, cam, { gain: 1 + 0.08 * gauss(prng) }, prng, out);
}
