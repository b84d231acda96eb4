/**
 * The contract between the page and the lab worker. Only plain data crosses it: numbers,
 * strings, arrays and objects of those (structured clone), plus comlink-proxied progress
 * callbacks. No tfjs type appears here, so the UI can import this file without pulling tfjs in.
 */

/** What the user asked for; "auto" picks the fastest backend that really works here. */
export type BackendChoice = 'auto' | 'webgpu' | 'wasm' | 'webgl' | 'cpu';
export type BackendName = Exclude<BackendChoice, 'auto'>;

export const BACKEND_CHOICES: readonly BackendChoice[] = ['auto', 'webgpu', 'wasm', 'webgl', 'cpu'];

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
  source: 'zoo' | 'random';
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
}

export interface JobProgress {
  jobId: string;
  /** 0..1 */
  fraction: number;
  message: string;
}

export type ProgressCallback = (p: JobProgress) => void;

export interface LoadModelOptions {
  /** "tiny" builds a small random model (tests, slow backends); other names are zoo folders. */
  model?: string;
  seed?: number;
}

/** Everything the worker exposes; each method's result is plain data. */
export interface LabWorkerApi {
  /** Start a backend; a second call on the same worker returns the first call's status. */
  init(choice: BackendChoice): Promise<BackendStatus>;
  getStatus(): BackendStatus | null;
  loadDefaultModel(opts: LoadModelOptions, jobId: string, onProgress?: ProgressCallback): Promise<ModelSummary>;
  modelSummary(): ModelSummary | null;
  measureLatency(opts: LatencyOptions, jobId: string, onProgress?: ProgressCallback): Promise<LatencyResult>;
  /** Ask a running job to stop; it ends with a LabError of code "cancelled". False if no such job runs. */
  cancel(jobId: string): boolean;
  /** tf.memory().numTensors, for leak checks in end-to-end tests. */
  numTensors(): number;
}
