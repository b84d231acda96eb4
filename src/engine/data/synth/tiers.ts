/**
 * Dataset sizes. XS is for tests (a few hundred images), S the lab's default (about 150
 * training and 150 test identities, a few thousand images), M Market-1501 scale (751/750
 * identities, ~13k training, ~3.4k query and ~20k gallery images). M is ~0.9 GB of RGB bytes at
 * 128x64 per domain: write it to disk with src/node/write-market-layout.ts (which streams image
 * by image) rather than generating it in memory in a browser. P is the pre-training pool (the
 * lab's ImageNet analogue, domain 'pool' only): 5,000 training identities with 8-12 images each,
 * every (person, camera) visit under its own randomised camera (pool-cameras.ts), and a small
 * query/gallery split of 200 identities to monitor pre-training; ~52k images, disk only.
 */
import { LabError } from '../../errors';
import type { SynthDomain } from './identities';

export type SynthTier = 'XS' | 'S' | 'M' | 'P';

export interface SynthTierSpec {
  trainIds: number;
  testIds: number;
  /** Weights of outfit family sizes 1, 2, 3, ... */
  familySizeWeights: readonly number[];
  /** Cues in which a sibling differs from its family's base outfit. */
  cuesPerSibling: number;
  /** Cameras per training identity [min, max], and images per (identity, camera). */
  trainCams: readonly [number, number];
  trainImagesPerCam: readonly [number, number];
  /** Pool only: images per training identity [min, max], spread evenly over its cameras (trainImagesPerCam then records the resulting bounds). */
  trainImagesPerId?: readonly [number, number];
  /** Cameras per test identity [min, max] (Market-1501: 2 to 6). */
  testCams: readonly [number, number];
  /** Gallery images per (test identity, camera), besides the one query. */
  galleryPerCam: readonly [number, number];
  /** Probability that a test family has one extra member who appears only as a distractor. */
  ghostRate: number;
  /** Gallery images with pid 0 (distractors) and pid -1 (junk). */
  distractors: number;
  junk: number;
}

export const SYNTH_TIERS: Readonly<Record<SynthTier, SynthTierSpec>> = {
  XS: {
    trainIds: 16, testIds: 16, familySizeWeights: [0, 2, 3, 2], cuesPerSibling: 3,
    trainCams: [2, 4], trainImagesPerCam: [2, 3], testCams: [2, 6], galleryPerCam: [1, 2],
    ghostRate: 0.5, distractors: 12, junk: 8,
  },
  S: {
    trainIds: 150, testIds: 150, familySizeWeights: [1, 2, 3, 3, 2], cuesPerSibling: 3,
    trainCams: [2, 5], trainImagesPerCam: [2, 4], testCams: [2, 6], galleryPerCam: [1, 3],
    ghostRate: 0.5, distractors: 120, junk: 60,
  },
  M: {
    trainIds: 751, testIds: 750, familySizeWeights: [1, 2, 3, 3, 2], cuesPerSibling: 3,
    trainCams: [2, 6], trainImagesPerCam: [2, 6], testCams: [2, 6], galleryPerCam: [3, 7],
    ghostRate: 0.5, distractors: 2793, junk: 3819,
  },
  P: {
    trainIds: 5000, testIds: 200, familySizeWeights: [1, 2, 3, 3, 2], cuesPerSibling: 3,
    trainCams: [3, 5], trainImagesPerCam: [1, 4], trainImagesPerId: [8, 12], testCams: [2, 6], galleryPerCam: [1, 3],
    ghostRate: 0.5, distractors: 150, junk: 60,
  },
};

/** Domains a tier can be drawn in: P only in the pool, the other tiers only in source or target. */
export function tierDomains(tier: SynthTier): readonly SynthDomain[] {
  return tier === 'P' ? ['pool'] : ['source', 'target'];
}

export function tierSpec(tier: string): SynthTierSpec {
  const spec = (SYNTH_TIERS as Record<string, SynthTierSpec>)[tier];
  if (!spec) throw new LabError('bad-argument', `SynthReID tier must be one of XS, S, M or P; got "${tier}".`);
  return spec;
}
