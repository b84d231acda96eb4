/**
 * The contract between the page and the lab worker. Only plain data crosses it: numbers,
 * strings, arrays and objects of those (structured clone), plus comlink-proxied progress
 * callbacks. No tfjs type appears here, so the UI can import this file without pulling tfjs in.
 */

/** What the user asked for; "auto" picks the fastest backend that really works here. */
export type BackendChoice = 'auto' | 'webgpu' | 'wasm' | 'webgl' | 'cpu';
export type BackendName = Exclude<BackendChoice, 'auto'>;

import type { ReproduceRequest, ReproduceTick, ReproduceView } from './reproduce-api';
import type { KernelTime } from '../engine/backend/kernel-profile';
export type { ReproduceRequest, ReproduceTick, ReproduceView } from './reproduce-api';

export const BACKEND_CHOICES: readonly BackendChoice[] = ['auto', 'webgpu', 'wasm', 'webgl', 'cpu'];

/** The most wasm threads a user may ask for (the URL's threads=, LabWorkerApi.init). */
export const MAX_WASM_THREADS = 16;

export function isBackendChoice(v: unknown): v is BackendChoice {
  return typeof v === 'string' && (BACKEND_CHOICES as readonly string[]).includes(v);
}

/** The GPU the backend runs on (WebGPU adapter info, or the WebGL renderer string). */
export interface AdapterInfo {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** A software adapter (SwiftShader, WARP, ...): runs, but far slower than a real GPU. */
  isFallbackAdapter: boolean;
}

export interface WasmInfo {
  simd: boolean;
  /** The browser allows wasm threads (SharedArrayBuffer, i.e. cross-origin isolation). */
  threadsSupported: boolean;
  /** XNNPACK threads actually in use (1 = single-threaded). */
  threadCount: number;
}

export interface BackendStatus {
  choice: BackendChoice;
  /** The backend in use. */
  name: BackendName;
  /** True when the backend runs on a real GPU (not a software fallback, not the CPU). */
  hardwareAccelerated: boolean;
  adapter?: AdapterInfo;
  wasm?: WasmInfo;
  crossOriginIsolated: boolean;
  /** The machine's real logical core count (before the lab widens it for the wasm pool). */
  hardwareConcurrency: number;
  /** Why "auto" (or a forced choice) did not get a faster backend, one sentence each. */
  notes: string[];
}

/** One conv layer of the model, for the architecture strip. */
export interface LayerChannels {
  /** Parameter prefix, e.g. "layer2.0.conv1" or "layer2.0.downsample.0". */
  name: string;
  /** 0 for the stem, 1..4 for layer1..layer4. */
  stage: number;
  /** Channel dependency group of the layer's output channels (see names.ts). */
  group: string;
  /** inner: prunable without touching neighbours; trunk: shared by a stage's residual chain. */
  kind: 'stem' | 'inner' | 'trunk';
  /** Output channels now. */
  channels: number;
  /** Output channels of the unpruned model of the same family. */
  original: number;
  /** Multiply-accumulates of this conv per image. */
  macs: number;
}

export interface ModelSummary {
  /** Zoo folder name, or a description of the random model. */
  name: string;
  source: 'zoo' | 'random' | 'user';
  depth: 18 | 34 | 50;
  widthMultiplier: number;
  input: { height: number; width: number };
  embeddingDim: number;
  layers: LayerChannels[];
  /** Parameters of the feature extractor (no ID classifier), as the paper counts them. */
  params: number;
  /** Multiply-accumulates per image at the model's input size (extractor only). */
  macs: number;
}

export interface LatencyOptions {
  batch?: number;
  warmup?: number;
  runs?: number;
}

export interface LatencyResult {
  backend: BackendName;
  batch: number;
  input: { height: number; width: number };
  runs: number;
  /** Milliseconds per forward pass of the whole batch, including the read-back of the embeddings. */
  medianMs: number;
  p10Ms: number;
  p90Ms: number;
  imagesPerSecond: number;
  /** (p90 - p10) / median. */
  spread?: number;
  /** A spread above 20% (here or in the dense model's interleaved runs): the machine was busy, the numbers are rough. */
  busy?: boolean;
  /** A pruned or fine-tuned model: the dense model timed interleaved with it in the same call. */
  dense?: { medianMs: number; p10Ms: number; p90Ms: number; runs: number; spread: number };
  /** Median over interleaved pairs of dense time / current time (> 1: the current model is faster). */
  speedup?: number;
}

export interface JobProgress {
  jobId: string;
  /** 0..1 */
  fraction: number;
  message: string;
  /** Training jobs: the steps finished since the previous event (none are dropped by the throttle). */
  train?: TrainTick;
}

export interface TrainTick {
  /** Every step since the last event: step number and its loss. */
  points: { step: number; loss: number }[];
  step: number;
  totalSteps: number;
  etaSec: number;
  imagesPerSec: number;
  paused: boolean;
}

export type ProgressCallback = (p: JobProgress) => void;

export interface LoadModelOptions {
  /** "tiny" builds a small random model (tests, slow backends); other names are zoo folders. */
  model?: string;
  seed?: number;
}

/** SynthReID, the built-in benchmark (tiers XS for tests, S for the lab). */
export interface SynthRequest {
  tier: 'XS' | 'S';
  domain: 'source' | 'target';
  /** Target only: 0 looks like the source cameras, 1 the full target cameras. */
  shift: number;
  seed: number;
}

export interface SplitStats {
  images: number;
  identities: number;
  cameras: number;
}

export interface DatasetSummary {
  name: string;
  kind: 'synth' | 'files';
  height: number;
  width: number;
  train: SplitStats;
  query: SplitStats;
  gallery: SplitStats;
  synth?: SynthRequest;
  /** The loader's report as sentences (files skipped, resized, subsampled, warnings). */
  report: string[];
}

/** One small image as RGBA bytes, ready for putImageData. */
export interface Thumbnail {
  pid: number;
  camera: number;
  split: 'query' | 'gallery' | 'train';
  width: number;
  height: number;
  rgba: ArrayBuffer;
}

export interface LoadFilesOptions {
  /** Keep only this many test identities (seeded), so evaluation stays quick. 0 = all. */
  testIdentities: number;
  seed: number;
}

/** The labelled fine-tuning subset: identities x images of the TRAIN split only. */
export interface FineTuneSplitRequest {
  identities: number;
  imagesPerIdentity: number;
  seed: number;
}

export interface FineTuneSplitSummary {
  identities: number;
  images: number;
  /** The training split's size it was drawn from. */
  ofIdentities: number;
  /** Checked: none of these identities is in the query or gallery set. */
  disjointFromEvaluation: boolean;
}

/** A 95% bootstrap interval over query identities (engine/eval/bootstrap.ts), as fractions. */
export interface EvalInterval {
  mAP: [number, number];
  rank1: [number, number];
  level: number;
  /** Query identities resampled. */
  identities: number;
}

export interface EvalSummary {
  /** 'quick': the queries of a fixed seeded subset of the test identities against the whole gallery; 'full': every query. Card figures are full. */
  kind: 'quick' | 'full';
  /** Absent for card figures (the card records no interval). */
  interval?: EvalInterval;
  /** Test identities whose queries were scored, of how many. */
  testIdentities?: number;
  ofTestIdentities?: number;
  mAP: number;
  rank1: number;
  rank5: number;
  rank10: number;
  mINP: number;
  numQueries: number;
  numValidQueries: number;
  numGallery: number;
  dataset: string;
  ms: number;
  /** 'card': the zoo model card's figures (computed offline by `lab card`), not measured on this page. */
  source?: 'card';
}

/** The start-up baseline: the card's figures when they describe exactly this model and dataset, else why not. */
export type CardBaselineOutcome =
  | { kind: 'card'; eval: EvalSummary & { source: 'card' }; cardCreated: string | null }
  | { kind: 'live'; reason: string };

export type StrategyId = 'once' | 'iterative' | 'soft';

export interface PruneRequest {
  criterion: string;
  target: { kind: 'rate'; rate: number } | { kind: 'macs'; keep: number };
  scope: 'inner' | 'inner+trunk';
  ranking: 'local' | 'global';
  strategy: StrategyId;
  seed: number;
  /** Iterative: prune-and-fine-tune rounds; soft: epochs. */
  rounds?: number;
  /** Iterative/soft: fine-tuning steps' worth per round. */
  stepsPerRound?: number;
  lr?: number;
  /** Recalibrate BatchNorm statistics on training images right after pruning (forward only): prune and recover in one job. */
  recalibrateBn?: boolean;
}

export interface PruneRecord {
  criterion: string;
  criterionName: string;
  strategy: StrategyId;
  target: PruneRequest['target'];
  scope: PruneRequest['scope'];
  ranking: PruneRequest['ranking'];
  /** Channel rate used (searched for a MACs target) and the fraction actually removed. */
  rate: number;
  removedFraction: number;
  targetMet: boolean;
  message?: string;
}

/** Where the current model came from: the dense model, pruned how, fine-tuned how long. */
export interface Lineage {
  base: string;
  baseSource: ModelSummary['source'];
  /** What happened to the base model before the lab opened it, as its file said ("fine-tuned in PyTorch, 100 steps on ..."). */
  history?: string;
  prune?: PruneRecord;
  fineTuneSteps: number;
  /** BatchNorm statistics re-estimated on this many training images (forward only) since the last prune. */
  bnRecalibrated?: number;
  /** The current model carries a PTL side branch (see PtlInfo): evaluated with it, its cost apart. */
  ptl?: PtlInfo;
}

export interface ModelState {
  /** Changes whenever the weights change (prune, fine-tune, reset, open). */
  stateId: number;
  summary: ModelSummary;
  lineage: Lineage;
  latency: LatencyResult | null;
  /** Unique across workers and visits (kept when a saved model is restored), so runs keyed by it never collide. */
  key?: string;
}

export interface OpenOptions {
  /** A .safetensors file that does not say its last stride: the user's answer (default 1). */
  lastStride?: 1 | 2;
}

/** What opening files did: a new dense model, or a plan applied to the dense model. */
export type OpenOutcome =
  | {
      kind: 'model';
      state: ModelState;
      /** What the importer filled in or ignored, as sentences. */
      notes: string[];
      /** The file did not say its last stride; the lab used this value (the page asks). */
      lastStrideAssumed?: 1 | 2;
    }
  | { kind: 'plan'; prune: PruneOutcome };

/** The saved current model's store (IndexedDB), as the page hears of it. */
export interface ModelStoreEvent {
  kind: 'saved' | 'cleared' | 'failed';
  /** Failed: the sentence for the user (a full quota, no IndexedDB, ...). */
  message?: string;
  stateKey?: string;
  /** Saved: bytes of weight data written, and milliseconds from read-back to commit. */
  bytes?: number;
  ms?: number;
  /** Saved: of `ms`, the weights' read-back from the backend (the rest is encoding and IndexedDB). */
  readMs?: number;
}

export type RestoreOutcome =
  | { kind: 'none' }
  | { kind: 'restored'; state: ModelState; what: string; description: string; bytes: number; ms: number }
  | { kind: 'ignored'; message: string };

export interface CostPoint {
  macs: number;
  params: number;
  latencyMs: number | null;
}

export interface PruneOutcome {
  before: CostPoint;
  after: CostPoint;
  state: ModelState;
}

export interface FineTuneRequest {
  steps: number;
  lr: number;
  seed: number;
  /** Recalibrate BatchNorm statistics (forward only, see recalibrateBatchNorm) before the first step. */
  recalibrateBn?: boolean;
  /**
   * Fine-tune with PTL (Progressive Transfer Learning): a side branch of BConv-Cells trained
   * jointly with the backbone (src/engine/ptl/). Absent: plain fine-tuning. Unset knobs keep the
   * engine's defaults (DEFAULT_PTL_CONFIG).
   */
  ptl?: PtlOptions;
  /**
   * Train layerN onwards only (1-4): the stem and earlier stages stay frozen, BatchNorm there
   * on running statistics. Absent or 0: the whole network. Not with `ptl`.
   */
  trainFromStage?: number;
}

/** The PTL knobs the lab exposes; the others (kernel, carry, gates) keep the engine's defaults. */
export interface PtlOptions {
  /** Cell channels as a fraction of the stage's output channels (engine default 0.25). */
  cellRatio?: number;
  /** Join the branch into the last stage only (engine default) or into every stage. */
  fuseInto?: 'last' | 'every';
}

/**
 * A model state that carries a PTL side branch. The current model is then the fine-tuned
 * backbone PLUS this branch: evaluation and latency run both (the branch's join changes the
 * embedding), and the branch's cost is reported apart from the backbone's (summary.macs/params
 * stay the backbone's). Exported files hold the backbone only.
 */
export interface PtlInfo {
  cellRatio: number;
  fuseInto: 'last' | 'every';
  kernel: number;
  carry: 'batch-mean' | 'per-sample';
  /** The side branch alone, per image at the model's input size. */
  branchMacs: number;
  branchParams: number;
  /** The backbone (extractor) alone, for the "+x%" the page shows. */
  backboneMacs: number;
  backboneParams: number;
  /** Fine-tuning steps the branch has been trained for. */
  steps: number;
}

/** What a PTL branch with these settings would cost on the current model, before training it. */
export type PtlCostPreview = Omit<PtlInfo, 'steps'>;

export interface RecalibrateRequest {
  /** Training images to run (default 256). */
  images?: number;
  seed: number;
}

export interface RecalibrateOutcome {
  images: number;
  layers: number;
  ms: number;
  state: ModelState;
}

export interface FineTuneOutcome {
  steps: number;
  finalLoss: number;
  imagesPerSec: number;
  state: ModelState;
  /** Set when the run used PTL (also in state.lineage.ptl). */
  ptl?: PtlInfo;
}

export interface CriterionInfo {
  id: string;
  name: string;
  needs: 'nothing' | 'weights' | 'data' | 'data+gradients';
  /** Scores from images when a dataset with a training split is loaded, from weights otherwise (COP). */
  usesDataWhenGiven: boolean;
  explanation: string;
  formula: string;
  globalNormalisation: string;
}

/**
 * A per-layer sensitivity scan (Hao Li et al.'s Figure 2): prune ONE dependency group alone at
 * each rate, keeping its top channels by the criterion, and evaluate; always on the dense model
 * (the one Prune starts from), evaluated with channel masks (masked == pruned).
 */
export interface SensitivityRequest {
  criterion: string;
  scope: 'inner' | 'inner+trunk';
  /** Rates to try in every group, each above 0 and below 1. */
  rates: number[];
  /** Score on at most this many query images (a seeded subset; the gallery stays whole). 0 = all. */
  maxQueries: number;
  /**
   * First keep only this many test identities (seeded; their queries and gallery images plus the
   * same share of distractors), since embedding the gallery dominates each evaluation. 0 = all.
   */
  maxIdentities?: number;
  seed: number;
}

/** What a scan will cost before it runs. */
export interface SensitivityPlan {
  groups: number;
  rates: number;
  /** 1 (the unpruned baseline) + groups x rates. */
  evaluations: number;
  queries: number;
  gallery: number;
}

export interface SensitivityOutcome {
  /** The dense model scanned. */
  model: string;
  criterion: string;
  criterionName: string;
  scope: SensitivityRequest['scope'];
  /** Rows: group id (names.ts), a label from the field ("layer3.2 conv1") and its channels. */
  groups: { id: string; label: string; channels: number }[];
  rates: number[];
  /** The unpruned model on the same evaluation set. */
  baseline: { mAP: number; rank1: number; macs: number };
  /** [group][rate], fractions in [0, 1]. */
  mAP: number[][];
  rank1: number[][];
  /** Channels kept in the pruned group. */
  kept: number[][];
  /** MACs of the network with only this group pruned. */
  macs: number[][];
  evaluations: number;
  queries: number;
  gallery: number;
  ms: number;
}

/** Model files for the user to save: names and bytes (transferred, not copied). */
export interface ExportedFiles {
  files: { name: string; bytes: ArrayBuffer }[];
}

/** Benchmark-only (bench/browser.ts): throughput of a fresh random ResNet, batch P×4 at height×inputWidth. */
export interface ThroughputRequest {
  depth: 18 | 34 | 50;
  width: number;
  /** Images per batch, a multiple of 4 (default 32). */
  batch?: number;
  /** Timed forwards and training steps, after one warm-up each (default 3). */
  steps?: number;
  /** Also time training steps (default true). */
  train?: boolean;
  height?: number;
  inputWidth?: number;
  /**
   * false: time the step without the fused training ops (plain-op BatchNorm, general Conv2D
   * gradient), as it was before issue #21, for an old-vs-new comparison (default true).
   */
  fusedTrainOps?: boolean;
  /**
   * Time a pruned model: Hao Li's L1 with local ranking (every layer at the same rate, so the
   * channel counts do not depend on the random weights) to this share of the MACs, inner scope,
   * the page's defaults. E.g. 0.5: the default model as the page prunes it at 50%.
   */
  macsKeep?: number;
  /**
   * Also profile `steps` training steps per kernel (tf.profile; the wasm backend times each
   * kernel's call in wall time, thread pool included): where the step's time goes in this worker.
   */
  profile?: boolean;
}

export interface ThroughputResult {
  backend: BackendName;
  depth: 18 | 34 | 50;
  width: number;
  batch: number;
  input: { height: number; width: number };
  steps: number;
  /** The timed model's MACs per image (after pruning, with macsKeep). */
  macs: number;
  forwardMsPerBatch: number;
  forwardImagesPerSecond: number;
  trainMsPerStep: number | null;
  trainImagesPerSecond: number | null;
  /** With profile: the training step's kernels, ms per step, slowest first. */
  kernels?: KernelTime[];
  /** With profile: their sum, ms per step. */
  kernelMs?: number;
}

/** A page of ranked lists: which queries, in which order. */
export interface RankedListsRequest {
  /** 'query': by query index; 'worst': lowest AP of the current model first (ties by index). */
  order: 'query' | 'worst';
  /** Position in that order of the page's first query (0-based). */
  offset: number;
  /** Queries on the page, 1 to 20. */
  count: number;
}

/** One retrieved gallery image. */
export interface RankedItem {
  /** Gallery index. */
  gallery: number;
  pid: number;
  camera: number;
  distance: number;
  /** Same identity as the query (green); otherwise red. */
  match: boolean;
  /** Index into the page's thumbs. */
  thumb: number;
}

/** One model's view of one query: its top-k (junk and same-camera shots removed, as scored). */
export interface RankedRow {
  /** The query's AP; null where the protocol skips the query (no match from another camera). */
  ap: number | null;
  /** 1-based rank of the first true match; 0 if skipped. */
  firstMatchRank: number;
  items: RankedItem[];
}

export interface RankedQuery {
  /** Position in the requested order. */
  position: number;
  /** Query index. */
  query: number;
  pid: number;
  camera: number;
  thumb: number;
  dense: RankedRow;
  current: RankedRow;
}

export interface RankedListsPage {
  dataset: string;
  /** The current model's state these lists belong to. */
  stateId: number;
  /** The current model is the dense one (not pruned or fine-tuned): both rows are the same. */
  currentIsDense: boolean;
  order: RankedListsRequest['order'];
  offset: number;
  /** Number of queries in the order (all queries, skipped ones last when worst-first). */
  total: number;
  topK: number;
  /** mAP over the valid queries, per model (the evaluation's number). */
  mAP: { dense: number; current: number };
  queries: RankedQuery[];
  /** The page's images, each once (transferred). */
  thumbs: Thumbnail[];
}

/** Everything the worker exposes; each method's result is plain data. */
export interface LabWorkerApi {
  /**
   * Start a backend; a second call on the same worker returns the first call's status. threads:
   * wasm threads (1-16) instead of one per core, for a user who wants to leave cores free or a
   * benchmark comparing thread counts; other backends ignore it.
   */
  init(choice: BackendChoice, opts?: { threads?: number }): Promise<BackendStatus>;
  getStatus(): BackendStatus | null;
  loadDefaultModel(opts: LoadModelOptions, jobId: string, onProgress?: ProgressCallback): Promise<ModelSummary>;
  modelSummary(): ModelSummary | null;
  measureLatency(opts: LatencyOptions, jobId: string, onProgress?: ProgressCallback): Promise<LatencyResult>;
  /** Ask a running job to stop; it ends with a LabError of code "cancelled". False if no such job runs. */
  cancel(jobId: string): boolean;
  /** Pause or resume a training job between steps. False if no such job runs. */
  setPaused(jobId: string, paused: boolean): boolean;

  /** The current model: summary, lineage, latency. Null before a model is loaded. */
  modelState(): ModelState | null;
  /** Latency of the current model (batch 1), remembered in its state. */
  measureStateLatency(jobId: string, onProgress?: ProgressCallback): Promise<ModelState>;
  /** Back to the dense model (the loaded or opened one). */
  resetModel(): ModelState;
  /**
   * Open the user's files: a model (model.json + shards, one .safetensors or one .onnx file),
   * which becomes the new dense model; or a pruning plan JSON, applied to the dense model.
   */
  openModelFiles(files: File[], jobId: string, onProgress?: ProgressCallback, opts?: OpenOptions): Promise<OpenOutcome>;
  /** The current model as files: tfjs (model.json + shards, as 'downloads://' writes them) or safetensors. */
  exportModel(format: 'tfjs' | 'safetensors', name: string): Promise<ExportedFiles>;

  generateSynth(req: SynthRequest, jobId: string, onProgress?: ProgressCallback): Promise<DatasetSummary>;
  /** A Market-1501 / DukeMTMC-reID / CUHK03-NP / MSMT17 folder (files with paths) or one zip. */
  loadDatasetFiles(files: { path: string; file: File }[], opts: LoadFilesOptions, jobId: string, onProgress?: ProgressCallback): Promise<DatasetSummary>;
  datasetSummary(): DatasetSummary | null;
  /** A few identities across cameras from the evaluation set. */
  thumbnails(identities: number, perIdentity: number): Promise<Thumbnail[]>;
  setFineTuneSplit(req: FineTuneSplitRequest): FineTuneSplitSummary;

  /** Score the current model: 'quick' (default in the page) or 'full' (default here, as before). */
  evaluate(jobId: string, onProgress?: ProgressCallback, kind?: 'quick' | 'full'): Promise<EvalSummary>;
  /** The dense zoo model's baseline from its card, if it was computed on exactly this dataset (no evaluation is run). */
  cardBaseline(): Promise<CardBaselineOutcome>;
  criteria(): CriterionInfo[];
  prune(req: PruneRequest, jobId: string, onProgress?: ProgressCallback): Promise<PruneOutcome>;
  fineTune(req: FineTuneRequest, jobId: string, onProgress?: ProgressCallback): Promise<FineTuneOutcome>;
  /** Re-estimate the current model's BatchNorm statistics on training images of the dataset (forward only); a new model state. */
  recalibrateBn(req: RecalibrateRequest, jobId: string, onProgress?: ProgressCallback): Promise<RecalibrateOutcome>;
  /** The MACs and params a PTL side branch with these settings adds to the current model. */
  ptlCostPreview(opts: PtlOptions): PtlCostPreview;
  /** How many evaluations a sensitivity scan needs, on how many images. */
  sensitivityPlan(req: SensitivityRequest): SensitivityPlan;
  /** Sensitivity scan of the dense model: groups x rates evaluations, with progress, ETA and cancel. */
  sensitivity(req: SensitivityRequest, jobId: string, onProgress?: ProgressCallback): Promise<SensitivityOutcome>;
  /**
   * Ranked lists of the evaluation set for the dense and the current model, a page at a time.
   * Embeddings are computed once per model state and dataset; later pages come from the cache.
   */
  rankedLists(req: RankedListsRequest, jobId: string, onProgress?: ProgressCallback): Promise<RankedListsPage>;
  /** tf.memory().numTensors, for leak checks in end-to-end tests. */
  numTensors(): number;
  /**
   * Hear, once, that the WebGPU device was lost (driver reset, GPU removed, ...): the model's
   * tensors are gone with it, so the page starts a wasm worker. Never called on other backends.
   */
  onDeviceLost(listener: (message: string) => void): void;
  /** Test-only: destroy the WebGPU device, as a driver reset would. False on other backends. */
  simulateDeviceLoss(): boolean;
  /** Hold the Web Lock `name` for the worker's life: the page's request for it is granted when the worker dies. */
  holdLifeline(name: string): Promise<boolean>;
  /** After the dense model is loaded: put back the model saved on the last visit or before a crash, if it derives from it. */
  restoreSavedModel(): Promise<RestoreOutcome>;
  /** Hear every save, clear and failure of the saved current model. */
  onModelStore(listener: (e: ModelStoreEvent) => void): void;
  /** Wait until the saved model is written; the last store event. */
  flushModelStore(): Promise<ModelStoreEvent | null>;
  /** Test-only: the worker dies ('close': self.close(); 'throw': an uncaught error at top level). */
  simulateCrash(how: 'close' | 'throw'): boolean;
  /** Test-only: the next model saves fail with a QuotaExceededError (null: work again). */
  simulateStorageFailure(kind: 'quota' | null): boolean;
  /** Benchmark-only: forward and training img/s of a fresh random model; the lab's model is untouched. */
  benchmarkThroughput(req: ThroughputRequest, jobId: string, onProgress?: ProgressCallback): Promise<ThroughputResult>;
  /** The Reproduce view: run `lab reproduce --quick` here (cells cached in IndexedDB; the lab's model is untouched). */
  reproduce(req: ReproduceRequest, jobId: string, onProgress?: ProgressCallback, onTick?: (t: ReproduceTick) => void): Promise<ReproduceView>;
  /** Forget the Reproduce view's cached cells. */
  clearReproduceCache(): Promise<void>;
}
