/**
 * The SynthReID manifest: generator version, every parameter (options, tier, cameras), the
 * identities with their family cues, and an FNV-1a 32-bit hash of every image, so anyone can
 * check that their copy (or their browser's rendering) is the benchmark, bit for bit.
 */
import { hashString } from '../../util/prng';
import type { ReidDataset, ReidSplit } from '../types';
import { imageView } from '../types';
import { fnv1a32, hex8 } from './detmath';
import type { CameraParams, SceneParams } from './cameras';
import { POOL_CAMERA_RANGES } from './pool-cameras';
import { POOL_SOURCE_PRIOR_SHARE } from './roster';
import type { ResolvedSynthOptions, SynthPlan, SynthSplitName } from './dataset';
import { SYNTH_GENERATOR_VERSION, SYNTH_POOL_VERSION } from './version';
import type { SynthTierSpec } from './tiers';

export interface ManifestImage {
  name: string;
  pid: number;
  camid: number;
  /** FNV-1a 32 of the image's RGB bytes, 8 hex digits. */
  fnv1a: string;
}

export interface SynthManifest {
  generator: 'SynthReID';
  version: string;
  options: ResolvedSynthOptions;
  tierSpec: SynthTierSpec;
  cameras: CameraParams[];
  hashAlgorithm: 'fnv1a-32';
  counts: Record<SynthSplitName, number> & { trainIds: number; testIds: number; distractors: number; junk: number };
  identities: { pid: number; split: 'train' | 'test'; family: number; cues: string[] }[];
  splits: Record<SynthSplitName, ManifestImage[]>;
  /** FNV-1a over every "split/name:hash" line (names without extension, so JPEG and PNG copies agree). */
  digest: string;
  /** Present when only some splits were rendered (the others are empty here, not in the benchmark). */
  onlySplits?: SynthSplitName[];
  /** Tier P only: the distribution its cameras are drawn from (each camera follows from the seed). */
  pool?: { cameraRanges: typeof POOL_CAMERA_RANGES; sourcePriorShare: number; scenes: SceneParams[] };
}

function splitEntries(split: ReidSplit): ManifestImage[] {
  const names = split.names ?? [];
  return Array.from({ length: split.count }, (_, i) => ({
    name: names[i] ?? String(i),
    pid: split.pids[i],
    camid: split.camids[i],
    fnv1a: hex8(fnv1a32(imageView(split, i))),
  }));
}

/** Digest of the per-image hashes (order matters; file extensions do not). */
export function manifestDigest(splits: Record<SynthSplitName, ManifestImage[]>): string {
  const lines = (['train', 'query', 'gallery'] as const).flatMap((s) => splits[s].map((m) => `${s}/${m.name.replace(/\.[a-z]+$/, '')}:${m.fnv1a}`));
  return hex8(hashString(lines.join('\n')));
}

export function buildManifest(plan: SynthPlan, dataset: ReidDataset): SynthManifest {
  const splits = { train: splitEntries(dataset.train), query: splitEntries(dataset.query), gallery: splitEntries(dataset.gallery) };
  return buildManifestFromEntries(plan, splits);
}

export function buildManifestFromEntries(plan: SynthPlan, splits: Record<SynthSplitName, ManifestImage[]>): SynthManifest {
  const g = splits.gallery;
  const pool = plan.options.domain === 'pool';
  return {
    generator: 'SynthReID',
    version: pool ? SYNTH_POOL_VERSION : SYNTH_GENERATOR_VERSION,
    options: { ...plan.options },
    tierSpec: plan.spec,
    cameras: plan.cameras,
    hashAlgorithm: 'fnv1a-32',
    counts: {
      train: splits.train.length,
      query: splits.query.length,
      gallery: g.length,
      trainIds: plan.roster.train.length,
      testIds: plan.roster.test.length,
      distractors: g.filter((m) => m.pid === 0).length,
      junk: g.filter((m) => m.pid === -1).length,
    },
    identities: [
      ...plan.roster.train.map((p) => ({ pid: p.pid, split: 'train' as const, family: p.family, cues: p.cues })),
      ...plan.roster.test.map((p) => ({ pid: p.pid, split: 'test' as const, family: p.family, cues: p.cues })),
    ],
    splits,
    digest: manifestDigest(splits),
    ...(pool ? { pool: { cameraRanges: POOL_CAMERA_RANGES, sourcePriorShare: POOL_SOURCE_PRIOR_SHARE, scenes: plan.scenes ?? [] } } : {}),
  };
}

/** Names of images whose bytes do not match the manifest (empty when the dataset is intact). */
export function verifyAgainstManifest(dataset: ReidDataset, manifest: SynthManifest): string[] {
  const bad: string[] = [];
  for (const s of ['train', 'query', 'gallery'] as const) {
    const split = dataset[s];
    const want = manifest.splits[s];
    if (split.count !== want.length) {
      bad.push(`${s}: ${split.count} images, manifest lists ${want.length}`);
      continue;
    }
    for (let i = 0; i < split.count; i++) {
      const got = hex8(fnv1a32(imageView(split, i)));
      if (got !== want[i].fnv1a || split.pids[i] !== want[i].pid || split.camids[i] !== want[i].camid) bad.push(`${s}/${want[i].name}`);
    }
  }
  return bad;
}
