/**
 * ONNX import of ResNet-18/34/50 ReID models as torchvision, torchreid or the lab export them.
 *
 * The graph is walked from its image input along the data path, matching the ResNet pattern
 * node by node: stem Conv 7x7/2 [BatchNormalization] Relu MaxPool 3x3/2, then residual blocks
 * (Conv [BN] Relu ... Conv [BN] Add(shortcut) Relu, the shortcut being the block input or a
 * 1x1 Conv [BN]), then GlobalAveragePool (or ReduceMean over H, W), Flatten / Reshape / Squeeze,
 * an optional BNNeck (BatchNormalization on [N, C], possibly wrapped in Unsqueeze/Squeeze, or
 * folded into Mul + Add) and an optional classifier Gemm. Identity and Dropout nodes are passed
 * through. Parameters found along the way form a PyTorch-style state_dict under the lab's
 * names, and state-dict.ts infers the spec from it (channel counts from the weight shapes, so
 * pruned models import as themselves). Anything else is refused with LabError('bad-onnx')
 * naming the first node that does not fit.
 *
 * Folded BatchNorm (PyTorch's exporter fuses Conv+BN in eval mode: a Conv with a bias and no
 * BN after it) becomes an identity BN carrying the bias: gamma = 1, beta = bias, running_mean
 * = 0, running_var = 1 - 1e-5, so the lab's BN computes (x - 0) / sqrt(1 - 1e-5 + 1e-5) * 1 +
 * bias = x + bias (to float32 rounding of the variance sum, ~1e-7 relative). A Conv bias
 * followed by a real BN is moved into the BN's mean (mean - bias). A BN whose epsilon is not
 * the lab's 1e-5 has eps - 1e-5 added to its running variance, which computes the same output.
 */
import { LabError } from '../errors';
import { BN_EPS } from '../model/forward';
import { stateDictToModel, type StateDict, type StateDictImport, type StateDictImportOptions, type StateTensor } from '../model/state-dict';
import { attrFloat, attrInt, attrInts, readOnnxGraph, valueDims, type ConstTensor, type OnnxGraph, type OnnxNode } from './graph';

export type OnnxImportOptions = StateDictImportOptions;

/** Ops that compute nothing at inference time. */
const PASSTHROUGH = new Set(['Identity', 'Dropout']);
/** Ops allowed only in the side computation of a Reshape's target shape. */
const SHAPE_OPS = new Set(['Shape', 'Gather', 'Unsqueeze', 'Concat', 'Cast', 'Constant', 'Slice', 'Squeeze']);

function bad(message: string, detail?: Record<string, unknown>): never {
  throw new LabError('bad-onnx', message, detail);
}

const describe = (n: OnnxNode) => `node "${n.name}" (${n.opType})`;

function unexpected(n: OnnxNode, expected: string): never {
  bad(`This ONNX graph is not a ResNet the lab can import: found ${describe(n)} where ${expected} was expected.`, { node: n.name, opType: n.opType });
}

interface BlockFound {
  /** Stride of the block's strided conv (conv1 in basic blocks, conv2 in bottlenecks). */
  stride: number;
  downsampleStride?: number;
  kind: 'basic' | 'bottleneck';
  /** The block's tensors under "convK" / "bnK" / "downsample.0" / "downsample.1" keys. */
  tensors: Map<string, StateTensor>;
}

class Walker {
  readonly visited = new Set<OnnxNode>();
  readonly notes: string[] = [];
  private foldedCount = 0;
  private epsAdjusted = 0;

  constructor(readonly g: OnnxGraph) {}

  /** Consumers of a value, looking through Identity/Dropout. */
  consumers(value: string): OnnxNode[] {
    const out: OnnxNode[] = [];
    for (const n of this.g.consumers.get(value) ?? []) {
      if (PASSTHROUGH.has(n.opType) && n.inputs[0] === value) {
        this.visited.add(n);
        out.push(...this.consumers(n.outputs[0]));
      } else out.push(n);
    }
    return out;
  }

  /** The value a node reads at `input`, looking back through Identity/Dropout. */
  source(value: string): string {
    const p = this.g.producer.get(value);
    return p && PASSTHROUGH.has(p.opType) ? this.source(p.inputs[0]) : value;
  }

  /** The single node reading `value`; `expected` names what should be there, for the error. */
  sole(value: string, expected: string, producer?: OnnxNode): OnnxNode {
    const c = this.consumers(value);
    if (c.length === 1) return c[0];
    if (c.length === 0) {
      if (this.g.outputs.some((o) => o.name === value)) {
        bad(`This ONNX graph is not a ResNet the lab can import: it ends after ${producer ? describe(producer) : `value "${value}"`}, where ${expected} was expected.`);
      }
      bad(`This ONNX graph is not a ResNet the lab can import: nothing reads ${producer ? `the output of ${describe(producer)}` : `"${value}"`}, where ${expected} was expected.`);
    }
    unexpected(c[1], `only ${expected}`);
  }

  expectOp(n: OnnxNode, op: string, expected: string): OnnxNode {
    if (n.opType !== op) unexpected(n, expected);
    this.visited.add(n);
    return n;
  }

  constant(n: OnnxNode, input: number, what: string): ConstTensor {
    const name = n.inputs[input];
    const c = name ? this.g.constants.get(name) : undefined;
    if (!c) bad(`This ONNX graph is not a ResNet the lab can import: the ${what} of ${describe(n)} is not a constant weight (input "${name ?? ''}").`, { node: n.name });
    return c;
  }

  /**
   * A Conv and its BatchNorm (or folded BN). Checks group 1, dilation 1, symmetric "same"
   * padding and the kernel size; returns the output value after the BN and the tensors.
   */
  convBn(conv: OnnxNode, key: string, bnKey: string, kernel: number, expected: string, into: Map<string, StateTensor>): { out: string; stride: number } {
    this.expectOp(conv, 'Conv', expected);
    const w = this.constant(conv, 1, 'weight');
    if (w.dims.length !== 4 || w.dims[2] !== kernel || w.dims[3] !== kernel) {
      bad(`This ONNX graph is not a ResNet the lab can import: ${describe(conv)} has a weight of shape [${w.dims.join(', ')}]; a ResNet has a ${kernel}x${kernel} conv here.`, { node: conv.name });
    }
    const group = attrInt(conv, 'group') ?? 1;
    const dil = attrInts(conv, 'dilations') ?? [1, 1];
    const strides = attrInts(conv, 'strides') ?? [1, 1];
    const pads = attrInts(conv, 'pads') ?? [0, 0, 0, 0];
    const p = (kernel - 1) / 2;
    const autoPad = conv.attrs.get('auto_pad')?.s;
    if (autoPad && new TextDecoder().decode(autoPad) !== 'NOTSET') bad(`${describe(conv)} uses auto_pad; the lab reads explicit pads only.`, { node: conv.name });
    if (group !== 1 || dil.some((d) => d !== 1) || pads.some((v) => v !== p) || strides[0] !== strides[1]) {
      bad(
        `This ONNX graph is not a ResNet the lab can import: ${describe(conv)} has group ${group}, dilations [${dil.join(', ')}], pads [${pads.join(', ')}], strides [${strides.join(', ')}]; expected group 1, dilation 1, pads ${p} on every side and equal strides.`,
        { node: conv.name },
      );
    }
    const cout = w.dims[0];
    into.set(`${key}.weight`, { shape: w.dims, values: w.values });
    const bias = conv.inputs[2] ? this.constant(conv, 2, 'bias').values : undefined;
    let out = conv.outputs[0];
    const next = this.consumers(out);
    if (next.length === 1 && next[0].opType === 'BatchNormalization') {
      const bn = next[0];
      this.visited.add(bn);
      const [gamma, beta, mean, variance] = [1, 2, 3, 4].map((i) => this.constant(bn, i, ['', 'scale', 'bias', 'mean', 'variance'][i]).values);
      if (gamma.length !== cout) bad(`${describe(bn)} has ${gamma.length} channels but follows a conv with ${cout}.`, { node: bn.name });
      const m = new Float32Array(mean);
      if (bias) for (let c = 0; c < cout; c++) m[c] -= bias[c];
      this.setBn(into, bnKey, gamma, beta, m, this.adjustVariance(variance, attrFloat(bn, 'epsilon') ?? 1e-5));
      out = bn.outputs[0];
    } else {
      this.foldedCount++;
      const beta = bias ? new Float32Array(bias) : new Float32Array(cout);
      this.setBn(into, bnKey, new Float32Array(cout).fill(1), beta, new Float32Array(cout), new Float32Array(cout).fill(1 - BN_EPS));
    }
    return { out, stride: strides[0] };
  }

  adjustVariance(v: Float32Array, eps: number): Float32Array {
    if (Math.abs(eps - BN_EPS) <= 1e-12) return new Float32Array(v);
    this.epsAdjusted++;
    return Float32Array.from(v, (x) => x + eps - BN_EPS);
  }

  setBn(into: Map<string, StateTensor>, key: string, gamma: Float32Array, beta: Float32Array, mean: Float32Array, variance: Float32Array): void {
    const c = gamma.length;
    into.set(`${key}.weight`, { shape: [c], values: new Float32Array(gamma) });
    into.set(`${key}.bias`, { shape: [c], values: new Float32Array(beta) });
    into.set(`${key}.running_mean`, { shape: [c], values: mean });
    into.set(`${key}.running_var`, { shape: [c], values: variance });
  }

  relu(value: string, producer: OnnxNode, expected: string): string {
    return this.expectOp(this.sole(value, expected, producer), 'Relu', expected).outputs[0];
  }

  finishNotes(): void {
    if (this.foldedCount > 0) {
      this.notes.push(
        `${this.foldedCount} convolution(s) had their BatchNorm folded into them (a Conv with bias, no BatchNormalization); each became an identity BatchNorm carrying the bias (gamma 1, beta = bias, mean 0, variance 1 - 1e-5), which computes the same outputs. Pruning criteria that read BN scales (bn-scale) see all-equal scales on these layers.`,
      );
    }
    if (this.epsAdjusted > 0) this.notes.push(`${this.epsAdjusted} BatchNorm(s) used an epsilon other than 1e-5; it was moved into their running variance.`);
  }
}

/** Walk one residual block starting at its input `h`; returns the block and its output value. */
function walkBlock(w: Walker, h: string): { block: BlockFound; out: string } {
  const tensors = new Map<string, StateTensor>();
  const cons = w.consumers(h);
  const convs = cons.filter((n) => n.opType === 'Conv');
  const others = cons.filter((n) => n.opType !== 'Conv');
  const blockExpected = 'a residual block (a Conv and either an Add or a 1x1 shortcut Conv)';
  if (others.some((n) => n.opType !== 'Add')) unexpected(others.find((n) => n.opType !== 'Add')!, blockExpected);
  if (!(convs.length === 2 && others.length === 0) && !(convs.length === 1 && others.length === 1)) {
    unexpected(cons[0] ?? w.g.producer.get(h)!, blockExpected);
  }

  // The shortcut conv is the 1x1 whose (BN) output goes straight into an Add.
  let shortcutOut = h;
  let downsampleStride: number | undefined;
  let main = convs[0];
  if (convs.length === 2) {
    const leadsToAdd = (c: OnnxNode) => {
      let out = c.outputs[0];
      const n = w.consumers(out);
      if (n.length === 1 && n[0].opType === 'BatchNormalization') out = n[0].outputs[0];
      const after = w.consumers(out);
      return after.length === 1 && after[0].opType === 'Add';
    };
    const ds = convs.find(leadsToAdd);
    if (!ds) unexpected(convs[1], 'a 1x1 shortcut Conv feeding the residual Add');
    main = convs.find((c) => c !== ds)!;
    const r = w.convBn(ds, 'downsample.0', 'downsample.1', 1, 'a 1x1 shortcut Conv', tensors);
    shortcutOut = r.out;
    downsampleStride = r.stride;
  }

  // Main path: the first conv's kernel tells the block kind (3x3 basic, 1x1 bottleneck).
  const k1 = w.g.constants.get(main.inputs[1])?.dims[2];
  const kind: BlockFound['kind'] = k1 === 1 ? 'bottleneck' : 'basic';
  const kernels = kind === 'basic' ? [3, 3] : [1, 3, 1];
  let y = h;
  let node = main;
  let stride = 1;
  for (let k = 1; k <= kernels.length; k++) {
    const r = w.convBn(node, `conv${k}`, `bn${k}`, kernels[k - 1], `conv${k} of a ${kind} block`, tensors);
    if ((kind === 'basic' && k === 1) || (kind === 'bottleneck' && k === 2)) stride = r.stride;
    else if (r.stride !== 1) bad(`This ONNX graph is not a ResNet the lab can import: ${describe(node)} has stride ${r.stride}; only the block's first 3x3 conv may be strided.`, { node: node.name });
    y = r.out;
    const producer = w.g.producer.get(y)!;
    if (k < kernels.length) {
      y = w.relu(y, producer, `a Relu after conv${k}`);
      node = w.sole(y, `conv${k + 1}`, w.g.producer.get(y));
    }
  }
  const add = w.expectOp(w.sole(y, 'the residual Add', w.g.producer.get(y)), 'Add', 'the residual Add');
  const ins = add.inputs.map((i) => w.source(i));
  if (!(ins.includes(w.source(y)) && ins.includes(w.source(shortcutOut)))) {
    unexpected(add, `an Add of the block's main path and its shortcut`);
  }
  const out = w.relu(add.outputs[0], add, 'a Relu after the residual Add');
  return { block: { stride, downsampleStride, kind, tensors }, out };
}

export interface OnnxImport extends StateDictImport {
  /** Name of the graph's image input and its static [H, W] if any. */
  input: { name: string; height?: number; width?: number };
}

/** Map an ONNX ResNet ReID model onto the lab's spec and parameters. */
export function importOnnx(bytes: Uint8Array, opts: OnnxImportOptions = {}): OnnxImport {
  const g = readOnnxGraph(bytes);
  const w = new Walker(g);
  if (g.inputs.length !== 1) {
    bad(`The ONNX graph has ${g.inputs.length} inputs (${g.inputs.map((i) => `"${i.name}"`).join(', ')}); a ReID model has one: images [N, 3, H, W].`);
  }
  const input = g.inputs[0];
  const dims = valueDims(input);
  if (dims && (dims.length !== 4 || (dims[1] !== null && dims[1] !== 3))) {
    bad(`The ONNX graph's input "${input.name}" has shape [${dims.map((d) => d ?? '?').join(', ')}]; expected images [N, 3, H, W] (NCHW RGB).`);
  }
  const sd: StateDict = new Map();

  // Stem.
  const stemConv = w.sole(input.name, 'the stem Conv 7x7');
  const stem = w.convBn(stemConv, 'conv1', 'bn1', 7, 'the stem Conv 7x7', sd);
  if (stem.stride !== 2) bad(`The stem ${describe(stemConv)} has stride ${stem.stride}; a ResNet stem has stride 2.`);
  let h = w.relu(stem.out, w.g.producer.get(stem.out)!, 'a Relu after the stem');
  const pool = w.expectOp(w.sole(h, 'the stem MaxPool', w.g.producer.get(h)), 'MaxPool', 'the stem MaxPool 3x3/2');
  const ks = attrInts(pool, 'kernel_shape');
  const ps = attrInts(pool, 'pads') ?? [0, 0, 0, 0];
  const ss = attrInts(pool, 'strides') ?? [1, 1];
  if (ks?.join() !== '3,3' || ps.some((p) => p !== 1) || ss.join() !== '2,2' || (attrInt(pool, 'ceil_mode') ?? 0) !== 0) {
    bad(`The stem ${describe(pool)} has kernel [${ks?.join(', ')}], pads [${ps.join(', ')}], strides [${ss.join(', ')}]; a ResNet stem pools 3x3 with stride 2 and pads 1.`);
  }
  h = pool.outputs[0];

  // Residual blocks until the global pooling.
  const stages: BlockFound[][] = [];
  for (;;) {
    const c = w.consumers(h);
    if (c.length === 1 && (c[0].opType === 'GlobalAveragePool' || c[0].opType === 'ReduceMean')) break;
    if (stages.length > 0 && c.length === 0) bad(`This ONNX graph is not a ResNet the lab can import: it ends after ${describe(w.g.producer.get(h)!)} without a global average pooling.`);
    const { block, out } = walkBlock(w, h);
    const newStage = stages.length === 0 || (block.downsampleStride !== undefined && stages.flat().length > 0);
    if (newStage) stages.push([]);
    stages[stages.length - 1].push(block);
    h = out;
  }
  if (stages.length !== 4) bad(`This ONNX graph's residual blocks form ${stages.length} stages; a ResNet has 4.`);
  const kinds = new Set(stages.flat().map((b) => b.kind));
  if (kinds.size > 1) bad('This ONNX graph mixes basic and bottleneck blocks; a ResNet uses one kind throughout.');
  let lastStride: 1 | 2 = 1;
  stages.forEach((blocks, s) => {
    blocks.forEach((b, i) => {
      const want = i > 0 || s === 0 ? 1 : s === 3 ? b.stride : 2;
      if (b.stride !== want || (b.downsampleStride !== undefined && b.downsampleStride !== b.stride) || (s === 3 && i === 0 && b.stride > 2)) {
        bad(`Block layer${s + 1}.${i} of this ONNX graph has stride ${b.stride} (shortcut ${b.downsampleStride ?? 'identity'}); a ResNet has stride 2 at the start of layer2 and layer3, 1 or 2 at layer4, 1 elsewhere.`);
      }
      if (s === 3 && i === 0) lastStride = b.stride as 1 | 2;
      for (const [k, t] of b.tensors) sd.set(`layer${s + 1}.${i}.${k}`, t);
    });
  });

  // Head: pooling, flattening, optional BNNeck, optional classifier.
  const poolNode = w.consumers(h)[0];
  w.visited.add(poolNode);
  if (poolNode.opType === 'ReduceMean') {
    const axes = attrInts(poolNode, 'axes') ?? (poolNode.inputs[1] ? [...(g.constants.get(poolNode.inputs[1])?.values ?? [])] : []);
    if (axes.map((a) => (a + 4) % 4).sort().join() !== '2,3') unexpected(poolNode, 'a global average pooling over H and W');
  }
  let v = poolNode.outputs[0];
  const shapeSide = new Set<OnnxNode>();
  const markShapeSide = (value: string) => {
    const p = g.producer.get(value);
    if (!p || shapeSide.has(p)) return;
    if (!SHAPE_OPS.has(p.opType)) unexpected(p, `only shape arithmetic feeding a Reshape's target shape`);
    shapeSide.add(p);
    p.inputs.forEach((i) => i && markShapeSide(i));
  };
  const isOutput = (value: string) => g.outputs.some((o) => o.name === value);
  let bnneck = false;
  let classifierSeen = false;
  for (;;) {
    const c = w.consumers(v);
    if (c.length === 0) break;
    // A value read both by the graph output (the embedding) and by a classifier is fine.
    const n = c.length === 1 ? c[0] : c.find((x) => x.opType === 'Gemm') ?? c[0];
    if (c.length > 1 && !(c.length === 2 && n.opType === 'Gemm')) unexpected(c[1], 'a single path after the pooling');
    if (n.opType === 'Flatten' || n.opType === 'Reshape' || n.opType === 'Squeeze' || n.opType === 'Unsqueeze') {
      if (classifierSeen) unexpected(n, 'the end of the graph');
      w.visited.add(n);
      if (n.opType === 'Reshape' && n.inputs[1] && !g.constants.has(n.inputs[1])) markShapeSide(n.inputs[1]);
      if ((n.opType === 'Squeeze' || n.opType === 'Unsqueeze') && n.inputs[1]) markShapeSide(n.inputs[1]);
      v = n.outputs[0];
      continue;
    }
    if ((n.opType === 'BatchNormalization' || n.opType === 'Mul') && !bnneck && !classifierSeen) {
      w.visited.add(n);
      bnneck = true;
      if (n.opType === 'BatchNormalization') {
        const [gamma, beta, mean, variance] = [1, 2, 3, 4].map((i) => w.constant(n, i, 'BNNeck parameter').values);
        w.setBn(sd, 'bnneck', gamma, beta, new Float32Array(mean), w.adjustVariance(variance, attrFloat(n, 'epsilon') ?? 1e-5));
        v = n.outputs[0];
      } else {
        // Folded BNNeck: x * scale + shift.
        const scale = w.constant(n, n.inputs[1] === v ? 1 : 0, 'BNNeck scale').values;
        const add = w.expectOp(w.sole(n.outputs[0], 'an Add (folded BNNeck shift)', n), 'Add', 'an Add (folded BNNeck shift)');
        const shift = w.constant(add, add.inputs[0] === n.outputs[0] ? 1 : 0, 'BNNeck shift').values;
        if (scale.length !== shift.length) unexpected(add, 'a per-channel shift as long as the scale');
        w.setBn(sd, 'bnneck', scale, shift, new Float32Array(scale.length), new Float32Array(scale.length).fill(1 - BN_EPS));
        w.notes.push('The BNNeck was folded into Mul + Add; it became a BatchNorm with those scale and shift, mean 0 and variance 1 - 1e-5.');
        v = add.outputs[0];
      }
      continue;
    }
    if (n.opType === 'Gemm' && !classifierSeen) {
      w.visited.add(n);
      classifierSeen = true;
      const b = w.constant(n, 1, 'weight');
      const bias = n.inputs[2] ? w.constant(n, 2, 'bias').values : new Float32Array(attrInt(n, 'transB') ? b.dims[0] : b.dims[1]);
      if ((attrInt(n, 'transA') ?? 0) !== 0) unexpected(n, 'a Gemm without transA');
      const alpha = attrFloat(n, 'alpha') ?? 1;
      const beta = attrFloat(n, 'beta') ?? 1;
      // PyTorch layout [out, in]; fold alpha and beta into the weight and bias.
      let weight = b.values;
      let [out, inn] = b.dims;
      if (!attrInt(n, 'transB')) {
        [inn, out] = b.dims;
        weight = new Float32Array(out * inn);
        for (let r = 0; r < inn; r++) for (let q = 0; q < out; q++) weight[q * inn + r] = b.values[r * out + q];
      }
      sd.set('classifier.weight', { shape: [out, inn], values: Float32Array.from(weight, (x) => x * alpha) });
      sd.set('classifier.bias', { shape: [out], values: Float32Array.from(bias, (x) => x * beta) });
      v = n.outputs[0];
      continue;
    }
    unexpected(n, classifierSeen ? 'the end of the graph' : 'a Flatten, the BNNeck BatchNormalization, a classifier Gemm or the end of the graph');
  }
  if (!isOutput(v)) bad('This ONNX graph does not end at its ResNet head; its outputs are computed elsewhere.');

  // Every node must be part of the pattern (or a constant / shape side computation).
  for (const n of g.nodes) {
    if (w.visited.has(n) || shapeSide.has(n) || n.opType === 'Constant') continue;
    unexpected(n, 'no other node (the graph has a branch the lab\'s ResNet does not)');
  }
  w.finishNotes();

  const options: StateDictImportOptions = { ...opts, metadata: { ...g.metadata, ...opts.metadata } };
  options.lastStride ??= lastStride;
  const H = dims?.[2] ?? undefined;
  const W = dims?.[3] ?? undefined;
  if (H && W) {
    options.inputHeight ??= H;
    options.inputWidth ??= W;
  }
  let result: StateDictImport;
  try {
    result = stateDictToModel(sd, options);
  } catch (e) {
    if (e instanceof LabError && e.code === 'bad-weights') throw new LabError('bad-onnx', `The ONNX graph's weights do not form a consistent ResNet: ${e.message}`, e.detail);
    throw e;
  }
  return { ...result, notes: [...w.notes, ...result.notes], input: { name: input.name, height: H ?? undefined, width: W ?? undefined } };
}
