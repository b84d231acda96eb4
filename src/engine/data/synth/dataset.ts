/**
 * Dataset assembly: from (tier, domain, shift, seed) to a Market-1501-shaped ReidDataset.
 *
 * Planning (who appears in which camera, under which file name) is separated from rendering,
 * so a writer can stream a Market-scale tier image by image, and any single image can be
 * re-rendered on its own (thumbnails) with the same bytes as in the dataset.
 *
 * Splits follow Market-1501: bounding_box_train (training identities), query (one image per
 * test identity and camera), bounding_box_test (the gallery: more images of the test
 * identities in each of their 2-6 cameras, plus distractors with pid 0 and junk with pid -1).
 */
import { CancelledError, LabError } from '../../errors';
import { Prng } from '../../util/prng';
import type { ReidDataset, ReidSplit } from '../types';
import { cameraNetwork } from './cameras';
import type { CameraParams, SceneParams } from './cameras';
import { sampleStranger, type Identity, type SynthDomain } from './identities';
import { renderImage, type ImageKind, type RenderContext, type RenderRequest } from './render';
import { buildRoster, type Roster } from './roster';
import { tierDomains, tierSpec, type SynthTier, type SynthTierSpec } from './tiers';
import { poolScenes, poolVisitCamera, POOL_MAX_SLOTS } from './pool-cameras';
import { planPoolSplits } from './pool-plan';
import { buildManifest, type SynthManifest } from './manifest';
import { marketName } from './file-names';

export { marketName, parseMarketName } from './file-names';

export { SYNTH_GENERATOR_VERSION, SYNTH_POOL_VERSION } from './version';
export const SYNTH_DEFAULT_SEED = 1501;
export const SYNTH_DEFAULT_HEIGHT = 128;
export const SYNTH_DEFAULT_WIDTH = 64;

export type SynthSplitName = 'train' | 'query' | 'gallery';

export interface SynthOptions {
  tier: SynthTier;
  domain: SynthDomain;
  /** Target domain only: 0 = source cameras, 1 = target cameras (default). Ignored for 'source'. */
  shift?: number;
  seed?: number;
  height?: number;
  width?: number;
  /** Called every few dozen images and at the end. */
  onProgress?: (p: { done: number; total: number }) => void;
  /** Checked between images; generation stops with a CancelledError once it returns true. */
  isCancelled?: () => boolean;
  /**
   * generateSynthReid only: render just these splits (default all three); the others come back
   * empty and the manifest says so. Evaluating on tier P needs its 2.6k test images, not its
   * 50k training images (1.2 GB at 128x64).
   */
  splits?: readonly SynthSplitName[];
}

export interface ResolvedSynthOptions {
  tier: SynthTier;
  domain: SynthDomain;
  shift: number;
  seed: number;
  height: number;
  width: number;
}

export interface PlannedImage {
  split: SynthSplitName;
  /** Label: > 0 a person, 0 distractor, -1 junk. */
  pid: number;
  camera: number;
  kind: ImageKind;
  /** Market-1501 file name, e.g. 0002_c1s1_000451_03.jpg. */
  name: string;
  request: RenderRequest;
}

export interface SynthPlan {
  options: ResolvedSynthOptions;
  spec: SynthTierSpec;
  /** The domain's camera network; empty for the pool, whose images carry their own cameras. */
  cameras: CameraParams[];
  /** The pool's scene library (tier P only). */
  scenes?: SceneParams[];
  roster: Roster;
  context: RenderContext;
  splits: Record<SynthSplitName, PlannedImage[]>;
}

export function resolveSynthOptions(o: SynthOptions): ResolvedSynthOptions {
  tierSpec(o.tier);
  if (o.domain !== 'source' && o.domain !== 'target' && o.domain !== 'pool') {
    throw new LabError('bad-argument', `SynthReID domain must be "source", "target" or "pool"; got "${String(o.domain)}".`);
  }
  if (!tierDomains(o.tier).includes(o.domain)) {
    throw new LabError('bad-argument', o.tier === 'P'
      ? `SynthReID tier P is the pre-training pool: its domain is "pool"; got "${o.domain}".`
      : `The "pool" domain is SynthReID tier P only; got tier ${o.tier}.`);
  }
  // The pool has no target cameras to shift towards: like the source, its shift is 0.
  const shift = o.domain === 'target' ? o.shift ?? 1 : 0;
  if (typeof shift !== 'number' || !(shift >= 0 && shift <= 1)) {
    throw new LabError('bad-argument', `The domain shift strength must be a number from 0 to 1; got ${String(o.shift)}.`);
  }
  const seed = o.seed ?? SYNTH_DEFAULT_SEED;
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
    throw new LabError('bad-argument', `The SynthReID seed must be a whole number from 0 to 4294967295; got ${seed}.`);
  }
  const height = o.height ?? SYNTH_DEFAULT_HEIGHT;
  const width = o.width ?? SYNTH_DEFAULT_WIDTH;
  if (!Number.isInteger(height) || height < 32 || height > 512 || !Number.isInteger(width) || width < 16 || width > 256) {
    throw new LabError('bad-argument', `SynthReID image size must be whole pixels, height 32-512 and width 16-256; got ${height}x${width}.`);
  }
  return { tier: o.tier, domain: o.domain, shift, seed, height, width };
}

/** A domain's camera network; the pool has none (its images carry their own cameras). */
function camerasOf(opts: ResolvedSynthOptions): CameraParams[] {
  return opts.domain === 'pool' ? [] : cameraNetwork(opts.domain, opts.shift);
}

function renderContext(opts: ResolvedSynthOptions, cameras: CameraParams[]): RenderContext {
  return { domain: opts.domain, cameras, height: opts.height, width: opts.width, root: new Prng(opts.seed).fork(`synthreid/${opts.domain}`) };
}

/** Decide every image of a dataset (who, which camera, which split, which name) without rendering. */
export function planSynthReid(options: SynthOptions): SynthPlan {
  const opts = resolveSynthOptions(options);
  const spec = tierSpec(opts.tier);
  const cameras = camerasOf(opts);
  const context = renderContext(opts, cameras);
  const roster = buildRoster(context.root.fork('roster'), opts.domain, spec);
  if (opts.domain === 'pool') {
    const scenes = poolScenes(context.root);
    return { options: opts, spec, cameras, scenes, roster, context, splits: planPoolSplits(context.root, spec, roster, scenes) };
  }
  const nCams = cameras.length;
  const prng = context.root.fork('plan');
  const frames = new Array<number>(nCams + 1).fill(0);
  const splits: Record<SynthSplitName, PlannedImage[]> = { train: [], query: [], gallery: [] };
  const seqOf = (pid: number, cam: number) => 1 + (context.root.fork(`seq/${pid}/${cam}`).nextU32() % 6);
  const add = (split: SynthSplitName, pid: number, camera: number, kind: ImageKind, person: Identity | null, key: string) => {
    frames[camera] += 1 + prng.int(0, 40);
    const box = kind === 'person' ? prng.int(1, 3) : prng.int(1, 8);
    const seq = seqOf(pid, camera);
    splits[split].push({ split, pid, camera, kind, name: marketName(pid, camera, seq, frames[camera], box), request: { person, camera, kind, key } });
  };
  const camIds = Array.from({ length: nCams }, (_, i) => i + 1);
  for (const p of roster.train) {
    const cams = prng.shuffle([...camIds]).slice(0, prng.int(spec.trainCams[0], Math.min(spec.trainCams[1], nCams)));
    for (const c of cams) {
      const n = prng.int(spec.trainImagesPerCam[0], spec.trainImagesPerCam[1]);
      for (let i = 0; i < n; i++) add('train', p.pid, c, 'person', p, `img/${p.pid}/${c}/${i}`);
    }
  }
  for (const p of roster.test) {
    const cams = prng.shuffle([...camIds]).slice(0, prng.int(Math.max(2, spec.testCams[0]), Math.min(spec.testCams[1], nCams)));
    for (const c of cams) {
      add('query', p.pid, c, 'person', p, `img/${p.pid}/${c}/0`);
      const n = prng.int(spec.galleryPerCam[0], spec.galleryPerCam[1]);
      for (let i = 1; i <= n; i++) add('gallery', p.pid, c, 'person', p, `img/${p.pid}/${c}/${i}`);
    }
  }
  for (let k = 0; k < spec.distractors; k++) {
    const ghost = roster.ghosts.length > 0 && prng.bool(0.6);
    const person = ghost ? prng.pick(roster.ghosts) : sampleStranger(context.root.fork(`stranger/${k}`), opts.domain);
    add('gallery', 0, prng.int(1, nCams), 'distractor', person, `distractor/${k}`);
  }
  for (let k = 0; k < spec.junk; k++) {
    const r = prng.next();
    const person = r < 0.5 ? prng.pick(roster.test) : r < 0.75 ? sampleStranger(context.root.fork(`junk-stranger/${k}`), opts.domain) : null;
    add('gallery', -1, prng.int(1, nCams), 'junk', person, `junk/${k}`);
  }
  // Market-1501 folders list files by name.
  for (const s of Object.values(splits)) s.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { options: opts, spec, cameras, roster, context, splits };
}

/** Render one planned image into `out` (height*width*3 bytes; allocated when omitted). */
export function renderPlannedImage(plan: SynthPlan, image: PlannedImage, out?: Uint8Array): Uint8Array {
  const bytes = out ?? new Uint8Array(plan.options.height * plan.options.width * 3);
  renderImage(plan.context, image.request, bytes);
  return bytes;
}

export interface SynthResult {
  dataset: ReidDataset;
  manifest: SynthManifest;
}

/** Generate a whole tier in memory: the ReidDataset and its manifest (parameters and image hashes). */
export function generateSynthReid(options: SynthOptions): SynthResult {
  const plan = planSynthReid(options);
  const { height, width } = plan.options;
  const size = height * width * 3;
  const wanted = new Set<SynthSplitName>(options.splits ?? ['train', 'query', 'gallery']);
  const planned = (s: SynthSplitName) => (wanted.has(s) ? plan.splits[s] : []);
  const total = planned('train').length + planned('query').length + planned('gallery').length;
  let done = 0;
  const build = (images: PlannedImage[]): ReidSplit => {
    const bytes = new Uint8Array(images.length * size);
    images.forEach((img, i) => {
      if (options.isCancelled?.()) throw new CancelledError('SynthReID generation');
      renderImage(plan.context, img.request, bytes.subarray(i * size, (i + 1) * size));
      done++;
      if (options.onProgress && done % 64 === 0) options.onProgress({ done, total });
    });
    return {
      images: bytes, count: images.length, height, width,
      pids: Int32Array.from(images.map((m) => m.pid)),
      camids: Int32Array.from(images.map((m) => m.camera)),
      names: images.map((m) => m.name),
    };
  };
  const train = build(planned('train'));
  const query = build(planned('query'));
  const gallery = build(planned('gallery'));
  options.onProgress?.({ done: total, total });
  const dataset: ReidDataset = { name: synthDatasetName(plan.options), train, query, gallery };
  const manifest = buildManifest(plan, dataset);
  return { dataset, manifest: wanted.size < 3 ? { ...manifest, onlySplits: [...wanted] } : manifest };
}

export function synthDatasetName(o: ResolvedSynthOptions): string {
  const shift = o.domain === 'target' && o.shift !== 1 ? `@shift${o.shift}` : '';
  return `SynthReID-${o.tier}/${o.domain}${shift}`;
}

export interface SynthImageRequest {
  domain: SynthDomain;
  pid: number;
  camera: number;
  /** Image index of this person in this camera (0 is the query image of a test identity). */
  index: number;
  tier?: SynthTier;
  seed?: number;
  shift?: number;
  height?: number;
  width?: number;
}

/**
 * Render one image of a person by (domain, pid, camera, index), e.g. for thumbnails. Gives the
 * same bytes as the dataset's image of that key when the dataset contains it.
 */
export function renderSynthImage(req: SynthImageRequest): Uint8Array {
  const opts = resolveSynthOptions({ tier: req.tier ?? (req.domain === 'pool' ? 'P' : 'S'), domain: req.domain, shift: req.shift, seed: req.seed, height: req.height, width: req.width });
  const cameras = camerasOf(opts);
  const context = renderContext(opts, cameras);
  const roster = buildRoster(context.root.fork('roster'), opts.domain, tierSpec(opts.tier));
  const person = roster.byPid.get(req.pid);
  if (!person) {
    throw new LabError('bad-argument', `SynthReID-${opts.tier} ${opts.domain} has no person with id ${req.pid}.`);
  }
  const cameraCount = opts.domain === 'pool' ? POOL_MAX_SLOTS : cameras.length;
  if (!Number.isInteger(req.camera) || req.camera < 1 || req.camera > cameraCount) {
    throw new LabError('bad-argument', `The ${opts.domain} domain has cameras 1 to ${cameraCount}; got camera ${req.camera}.`);
  }
  if (!Number.isInteger(req.index) || req.index < 0) {
    throw new LabError('bad-argument', `The image index must be a whole number of at least 0; got ${req.index}.`);
  }
  const out = new Uint8Array(opts.height * opts.width * 3);
  const cameraParams = opts.domain === 'pool' ? poolVisitCamera(context.root, `${req.pid}/${req.camera}`, req.camera, poolScenes(context.root)) : undefined;
  renderImage(context, { person, camera: req.camera, kind: 'person', key: `img/${req.pid}/${req.camera}/${req.index}`, cameraParams }, out);
  return out;
}

/** The identities of a tier (for UIs that list people and their family cues). */
export function synthRoster(options: Pick<SynthOptions, 'tier' | 'domain' | 'seed'>): Roster {
  const opts = resolveSynthOptions({ tier: options.tier, domain: options.domain, seed: options.seed });
  const context = renderContext(opts, camerasOf(opts));
  return buildRoster(context.root.fork('roster'), opts.domain, tierSpec(opts.tier));
}
