/** SynthReID: the lab's procedural, seeded pedestrian ReID benchmark (see dataset.ts). */
export {
  generateSynthReid, planSynthReid, renderPlannedImage, renderSynthImage, synthRoster, resolveSynthOptions,
  marketName, parseMarketName, synthDatasetName,
  SYNTH_GENERATOR_VERSION, SYNTH_POOL_VERSION, SYNTH_DEFAULT_SEED, SYNTH_DEFAULT_HEIGHT, SYNTH_DEFAULT_WIDTH,
} from './dataset';
export type { SynthOptions, SynthPlan, PlannedImage, SynthResult, SynthImageRequest, SynthSplitName, ResolvedSynthOptions } from './dataset';
export { buildManifest, buildManifestFromEntries, verifyAgainstManifest, manifestDigest } from './manifest';
export type { SynthManifest, ManifestImage } from './manifest';
export { cameraNetwork, interpolateCamera, sourceCameraFor, domainCameraCount } from './cameras';
export type { CameraParams, SceneParams } from './cameras';
export { SYNTH_TIERS, tierSpec, tierDomains } from './tiers';
export { POOL_CAMERA_RANGES, POOL_SCENE_COUNT, POOL_MAX_SLOTS, samplePoolCamera, poolScenes } from './pool-cameras';
export type { SynthTier, SynthTierSpec } from './tiers';
export type { SynthDomain, Identity, Outfit, Body } from './identities';
export { fnv1a32 } from './detmath';
export { SYNTH_GOLDEN, SYNTH_POOL_GOLDEN } from './golden';
