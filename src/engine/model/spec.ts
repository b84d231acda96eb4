/**
 * The lab's ResNet ReID architecture description. Every layer's channel count is explicit, so
 * a pruned model is just a spec with smaller numbers; the same spec is the "topology" section
 * of a saved model.json.
 *
 * Layout follows torchvision: stem (conv1 7x7/2, bn1, relu, maxpool 3x3/2), four stages
 * (layer1..layer4) of basic blocks (ResNet-18/34) or bottlenecks (ResNet-50, stride on the 3x3
 * conv as in torchvision >= 0.x "ResNet v1.5"), then the ReID head: global average pooling,
 * optional BNNeck (BatchNorm1d) whose output is the embedding, and an ID classifier (Linear,
 * training only).
 */

export const SPEC_FORMAT = 'prunability-lab/resnet@1';
/** Largest input side a spec may declare. ReID inputs are about 256 x 128; a side past this is a damaged or foreign file, and would exhaust memory. */
export const MAX_INPUT_SIDE = 2048;

export type Depth = 18 | 34 | 50;
export type BlockKind = 'basic' | 'bottleneck';

/**
 * One residual block.
 * basic:      conv1 3x3 (inC -> mid[0], stride) -> conv2 3x3 (mid[0] -> outC)
 * bottleneck: conv1 1x1 (inC -> mid[0]) -> conv2 3x3 (mid[0] -> mid[1], stride) -> conv3 1x1 (mid[1] -> outC)
 * downsample: 1x1 conv (inC -> outC, stride) + BN on the shortcut, present when the block
 * changes resolution or channel count (torchvision's rule), or when the spec says so.
 */
export interface BlockSpec {
  inC: number;
  /** Inner ("mid") channel counts: one entry for basic blocks, two for bottlenecks. */
  mid: number[];
  outC: number;
  stride: number;
  downsample: boolean;
}

export interface HeadSpec {
  /** BNNeck: BatchNorm1d after pooling; its output is the evaluation embedding. */
  bnneck: boolean;
  /** Number of training identities for the ID classifier; 0 means no classifier. */
  numClasses: number;
}

export interface ResNetSpec {
  format: typeof SPEC_FORMAT;
  depth: Depth;
  block: BlockKind;
  /** Width multiplier the unpruned model was built with (informational after pruning). */
  widthMultiplier: number;
  input: { height: number; width: number };
  /** Output channels of the stem conv (conv1/bn1). */
  stemC: number;
  /** Four stages, each a list of blocks. */
  stages: BlockSpec[][];
  /** Stride of the first block of layer4: 1 (common in ReID) or 2 (torchvision). */
  lastStride: 1 | 2;
  head: HeadSpec;
}

export interface BuildOptions {
  depth: Depth;
  widthMultiplier?: number;
  lastStride?: 1 | 2;
  inputHeight?: number;
  inputWidth?: number;
  bnneck?: boolean;
  numClasses?: number;
}

const BLOCKS_PER_STAGE: Record<Depth, number[]> = {
  18: [2, 2, 2, 2],
  34: [3, 4, 6, 3],
  50: [3, 4, 6, 3],
};

/** Scale a torchvision channel count by the width multiplier; at least 1 channel. */
export function scaleChannels(c: number, widthMultiplier: number): number {
  return Math.max(1, Math.round(c * widthMultiplier));
}

/** Build the unpruned spec of a torchvision-layout ResNet. */
export function buildSpec(opts: BuildOptions): ResNetSpec {
  const depth = opts.depth;
  if (!(depth in BLOCKS_PER_STAGE)) throw new RangeError(`Unsupported ResNet depth ${depth}; expected 18, 34 or 50.`);
  const w = opts.widthMultiplier ?? 1;
  if (!(w > 0) || w > 4) throw new RangeError(`Width multiplier must be in (0, 4]; got ${w}.`);
  const lastStride = opts.lastStride ?? 1;
  const block: BlockKind = depth === 50 ? 'bottleneck' : 'basic';
  const expansion = block === 'bottleneck' ? 4 : 1;
  const stemC = scaleChannels(64, w);
  const stages: BlockSpec[][] = [];
  let inC = stemC;
  const planes = [64, 128, 256, 512];
  for (let s = 0; s < 4; s++) {
    const p = scaleChannels(planes[s], w);
    const outC = p * expansion;
    const blocks: BlockSpec[] = [];
    for (let b = 0; b < BLOCKS_PER_STAGE[depth][s]; b++) {
      const stride = b === 0 && s > 0 ? (s === 3 ? lastStride : 2) : 1;
      blocks.push({
        inC,
        mid: block === 'bottleneck' ? [p, p] : [p],
        outC,
        stride,
        downsample: b === 0 && (stride !== 1 || inC !== outC),
      });
      inC = outC;
    }
    stages.push(blocks);
  }
  const spec: ResNetSpec = {
    format: SPEC_FORMAT,
    depth,
    block,
    widthMultiplier: w,
    input: { height: opts.inputHeight ?? 128, width: opts.inputWidth ?? 64 },
    stemC,
    stages,
    lastStride,
    head: { bnneck: opts.bnneck ?? true, numClasses: opts.numClasses ?? 0 },
  };
  validateSpec(spec);
  return spec;
}

/** Embedding dimension: the channels of the last stage's trunk. */
export function embeddingDim(spec: ResNetSpec): number {
  const last = spec.stages[spec.stages.length - 1];
  return last[last.length - 1].outC;
}

export class SpecError extends Error {
  override name = 'SpecError';
}

/**
 * Check that a spec describes a runnable network: channel counts chain, residual adds see equal
 * channel counts, strides are sane. Throws SpecError with a readable sentence.
 */
export function validateSpec(spec: ResNetSpec): void {
  const fail = (msg: string): never => {
    throw new SpecError(msg);
  };
  if (spec.format !== SPEC_FORMAT) fail(`Unknown model format ${show(spec.format)}; expected "${SPEC_FORMAT}".`);
  if (![18, 34, 50].includes(spec.depth)) fail(`Unsupported depth ${show(spec.depth)}; expected 18, 34 or 50.`);
  const kind: BlockKind = spec.depth === 50 ? 'bottleneck' : 'basic';
  if (spec.block !== kind) fail(`ResNet-${spec.depth} uses ${kind} blocks, but the spec says ${show(spec.block)}.`);
  const posInt = (v: unknown, what: string) => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) fail(`${what} must be a positive integer; found ${show(v)}.`);
  };
  posInt(spec.input?.height, 'Input height');
  posInt(spec.input?.width, 'Input width');
  if (spec.input.height > MAX_INPUT_SIDE || spec.input.width > MAX_INPUT_SIDE) {
    fail(`The input size ${spec.input.height} x ${spec.input.width} is implausible for a ReID model (they take about 256 x 128); the lab accepts at most ${MAX_INPUT_SIDE} pixels a side.`);
  }
  posInt(spec.stemC, 'Stem channels');
  if (!Array.isArray(spec.stages) || spec.stages.length !== 4) fail('A ResNet spec has exactly 4 stages.');
  let inC = spec.stemC;
  spec.stages.forEach((stage, s) => {
    if (!Array.isArray(stage) || stage.length < 1) fail(`Stage layer${s + 1} has no blocks.`);
    stage.forEach((b, i) => {
      const where = `layer${s + 1}.${i}`;
      if (typeof b !== 'object' || b === null) fail(`${where} is malformed: expected a block description (inC, mid, outC, stride, downsample); found ${show(b)}.`);
      posInt(b.inC, `${where} input channels`);
      if (b.inC !== inC) fail(`${where} expects ${b.inC} input channels but receives ${inC}.`);
      const nMid = kind === 'bottleneck' ? 2 : 1;
      if (!Array.isArray(b.mid) || b.mid.length !== nMid) fail(`${where} must have ${nMid} inner channel count(s).`);
      b.mid.forEach((m, j) => posInt(m, `${where} inner channels [${j}]`));
      posInt(b.outC, `${where} output channels`);
      if (![1, 2].includes(b.stride)) fail(`${where} stride must be 1 or 2; found ${show(b.stride)}.`);
      if (!b.downsample && (b.stride !== 1 || b.inC !== b.outC)) {
        fail(`${where} changes resolution or channels (${b.inC} -> ${b.outC}, stride ${b.stride}) but has no downsample shortcut.`);
      }
      inC = b.outC;
    });
  });
  if (spec.lastStride !== 1 && spec.lastStride !== 2) fail(`Last stride must be 1 or 2; found ${show(spec.lastStride)}.`);
  if (!spec.head || typeof spec.head.bnneck !== 'boolean') fail('The head must say whether it has a BNNeck.');
  if (!Number.isInteger(spec.head.numClasses) || spec.head.numClasses < 0) fail(`numClasses must be a non-negative integer; found ${show(spec.head.numClasses)}.`);
}

/** A value as a message shows it: "nothing" for a missing one, JSON for objects (shortened). */
function show(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v !== 'object' || v === null) return String(v);
  const j = JSON.stringify(v);
  return j.length > 60 ? `${j.slice(0, 57)}...` : j;
}

/** Deep copy (specs are plain JSON). */
export function cloneSpec(spec: ResNetSpec): ResNetSpec {
  return JSON.parse(JSON.stringify(spec)) as ResNetSpec;
}

/** Spatial size after the stem and each stage, for a given input size. */
export function featureSizes(spec: ResNetSpec): { stem: [number, number]; stages: [number, number][] } {
  const conv = (n: number, k: number, s: number, p: number) => Math.floor((n + 2 * p - k) / s) + 1;
  let h = conv(spec.input.height, 7, 2, 3);
  let w = conv(spec.input.width, 7, 2, 3);
  h = conv(h, 3, 2, 1);
  w = conv(w, 3, 2, 1);
  const stem: [number, number] = [h, w];
  const stages: [number, number][] = [];
  for (const stage of spec.stages) {
    for (const b of stage) {
      h = conv(h, 3, b.stride, 1);
      w = conv(w, 3, b.stride, 1);
    }
    stages.push([h, w]);
  }
  return { stem, stages };
}
