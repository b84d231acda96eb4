/**
 * ONNX export of a lab model (pruned or not), laid out as PyTorch's exporter lays out a
 * torchvision/torchreid ResNet: NCHW, input "images" [N, 3, H, W] (ImageNet-normalised RGB,
 * as the lab's preprocess produces, but channels-first), output "embedding" [N, D].
 *
 * Nodes: Conv, BatchNormalization (or folded into the Conv's weights and bias with
 * `foldBatchNorm`), Relu, MaxPool (3x3, stride 2, pads 1), Add, GlobalAveragePool, Flatten,
 * then the BNNeck as a BatchNormalization on the [N, C] tensor (ONNX allows rank-2 input:
 * C is axis 1), folded into a Mul and an Add with `foldBatchNorm`. With `withLogits` the ID
 * classifier is a Gemm producing a second output "logits". Initializers carry the PyTorch
 * state_dict names and layouts (conv [out, in, kh, kw], Gemm B [out, in] with transB = 1).
 * The lab's spec travels in metadata_props (SPEC_METADATA_KEY), so importing the file gives
 * back the same spec, input size and last stride included.
 */
import type { ResNetSpec } from '../model/spec';
import { embeddingDim, validateSpec } from '../model/spec';
import { blockPrefix, listParams } from '../model/names';
import { BN_EPS } from '../model/forward';
import type { ParamArrays } from '../model/init';
import type { ReidModel } from '../model/model';
import { convToTorch, transpose2d, SPEC_METADATA_KEY } from '../model/state-dict';
import { LabError } from '../errors';
import { AttrType, DataType, encodeModel, type AttributeMsg, type NodeMsg, type TensorMsg, type ValueInfoMsg } from './schema';

export const ONNX_INPUT = 'images';
export const ONNX_OUTPUT = 'embedding';
export const ONNX_LOGITS = 'logits';
export const ONNX_OPSET = 17;
/** IR version 8 goes with opset 17 (ONNX 1.12+); every current runtime reads it. */
export const ONNX_IR_VERSION = 8;

export interface OnnxExportOptions {
  /** Fold every BatchNorm into the preceding Conv (and the BNNeck into Mul + Add). Default false. */
  foldBatchNorm?: boolean;
  /** Also output the ID classifier's logits (needs a classifier in the spec). Default false. */
  withLogits?: boolean;
  /** A fixed batch size, or a symbolic "N" (default). */
  batch?: number;
  /** Graph name and producer string, for tools that show them. */
  graphName?: string;
}

const LITTLE_ENDIAN = new Uint8Array(Uint32Array.of(1).buffer)[0] === 1;

function floatBytes(v: Float32Array): Uint8Array {
  if (LITTLE_ENDIAN) return new Uint8Array(v.buffer.slice(v.byteOffset, v.byteOffset + v.byteLength));
  const out = new Uint8Array(v.length * 4);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < v.length; i++) dv.setFloat32(i * 4, v[i], true);
  return out;
}

const ints = (name: string, values: number[]): AttributeMsg => ({ name, type: AttrType.INTS, ints: values });
const int = (name: string, i: number): AttributeMsg => ({ name, type: AttrType.INT, i });
const float = (name: string, f: number): AttributeMsg => ({ name, type: AttrType.FLOAT, f });

function valueInfo(name: string, dims: (number | string)[]): ValueInfoMsg {
  return {
    name,
    type: { tensorType: { elemType: DataType.FLOAT, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } },
  };
}

/** Build the ONNX bytes of a spec and its parameters (the lab's layout, names.ts). */
export function exportOnnx(spec: ResNetSpec, arrays: ParamArrays, opts: OnnxExportOptions = {}): Uint8Array {
  validateSpec(spec);
  const fold = opts.foldBatchNorm ?? false;
  if (opts.withLogits && spec.head.numClasses <= 0) {
    throw new LabError('bad-argument', 'Cannot export logits: this model has no ID classifier (numClasses is 0).');
  }
  if (opts.batch !== undefined && (!Number.isInteger(opts.batch) || opts.batch < 1)) {
    throw new LabError('bad-argument', `The ONNX batch size must be a positive whole number (or left out for a dynamic batch); found ${String(opts.batch)}.`);
  }
  const infos = listParams(spec);
  for (const info of infos) {
    const a = arrays.get(info.name);
    const n = info.shape.reduce((x, y) => x * y, 1);
    if (!a || a.length !== n) throw new LabError('bad-argument', `Cannot export: ${info.name} should hold ${n} values; found ${a ? a.length : 'none'}.`);
  }
  const shapeOf = new Map(infos.map((i) => [i.name, i.shape]));
  const get = (name: string) => arrays.get(name)!;

  const nodes: NodeMsg[] = [];
  const initializers: TensorMsg[] = [];
  const addInit = (name: string, dims: number[], values: Float32Array) => {
    initializers.push({ name, dims, dataType: DataType.FLOAT, rawData: floatBytes(values) });
  };
  const node = (opType: string, name: string, inputs: string[], output: string, attribute: AttributeMsg[] = []): string => {
    nodes.push({ opType, name, input: inputs, output: [output], attribute });
    return output;
  };

  /** BN as (scale, shift) per channel: y = x * scale + shift (inference mode, eps as in forward.ts). */
  const bnAffine = (prefix: string) => {
    const g = get(`${prefix}.weight`);
    const b = get(`${prefix}.bias`);
    const m = get(`${prefix}.running_mean`);
    const v = get(`${prefix}.running_var`);
    const scale = new Float32Array(g.length);
    const shift = new Float32Array(g.length);
    for (let c = 0; c < g.length; c++) {
      scale[c] = g[c] / Math.sqrt(v[c] + BN_EPS);
      shift[c] = b[c] - m[c] * scale[c];
    }
    return { scale, shift };
  };

  const batchNorm = (x: string, prefix: string, path: string, output = `${path}/BatchNormalization_output_0`): string => {
    const c = get(`${prefix}.weight`).length;
    for (const s of ['weight', 'bias', 'running_mean', 'running_var']) addInit(`${prefix}.${s}`, [c], get(`${prefix}.${s}`));
    return node(
      'BatchNormalization',
      `${path}/BatchNormalization`,
      [x, `${prefix}.weight`, `${prefix}.bias`, `${prefix}.running_mean`, `${prefix}.running_var`],
      output,
      [float('epsilon', BN_EPS), float('momentum', 0.9)],
    );
  };

  /** Conv (PyTorch layout) followed by its BatchNorm, or with the BN folded into weight and bias. */
  const convBn = (x: string, convName: string, bnPrefix: string, stride: number, path: string, bnPath: string): string => {
    const [kh, kw, cin, cout] = shapeOf.get(convName)!;
    const torchW = convToTorch(get(convName), [kh, kw, cin, cout]);
    const pad = (kh - 1) / 2;
    const attrs = [int('group', 1), ints('dilations', [1, 1]), ints('kernel_shape', [kh, kw]), ints('pads', [pad, pad, pad, pad]), ints('strides', [stride, stride])];
    if (!fold) {
      addInit(convName, [cout, cin, kh, kw], torchW);
      const y = node('Conv', `${path}/Conv`, [x, convName], `${path}/Conv_output_0`, attrs);
      return batchNorm(y, bnPrefix, bnPath);
    }
    const { scale, shift } = bnAffine(bnPrefix);
    const per = cin * kh * kw;
    for (let o = 0; o < cout; o++) for (let j = 0; j < per; j++) torchW[o * per + j] *= scale[o];
    const biasName = convName.replace(/\.weight$/, '.bias');
    addInit(convName, [cout, cin, kh, kw], torchW);
    addInit(biasName, [cout], shift);
    return node('Conv', `${path}/Conv`, [x, convName, biasName], `${path}/Conv_output_0`, attrs);
  };

  const relu = (x: string, path: string) => node('Relu', `${path}/Relu`, [x], `${path}/Relu_output_0`);

  // Stem.
  let h = convBn(ONNX_INPUT, 'conv1.weight', 'bn1', 2, '/conv1', '/bn1');
  h = relu(h, '/relu');
  h = node('MaxPool', '/maxpool/MaxPool', [h], '/maxpool/MaxPool_output_0', [
    ints('kernel_shape', [3, 3]),
    ints('pads', [1, 1, 1, 1]),
    ints('strides', [2, 2]),
  ]);

  spec.stages.forEach((stage, s) => {
    stage.forEach((b, i) => {
      const p = blockPrefix(s, i);
      const path = `/${p.replace('.', '/')}`;
      const nConv = spec.block === 'basic' ? 2 : 3;
      let y = h;
      for (let k = 1; k <= nConv; k++) {
        // torchvision puts the stride on the first 3x3 conv: conv1 (basic) or conv2 (bottleneck).
        const stride = (spec.block === 'basic' ? k === 1 : k === 2) ? b.stride : 1;
        y = convBn(y, `${p}.conv${k}.weight`, `${p}.bn${k}`, stride, `${path}/conv${k}`, `${path}/bn${k}`);
        if (k < nConv) y = relu(y, `${path}/relu${k > 1 ? `_${k - 1}` : ''}`);
      }
      const shortcut = b.downsample
        ? convBn(h, `${p}.downsample.0.weight`, `${p}.downsample.1`, b.stride, `${path}/downsample/downsample.0`, `${path}/downsample/downsample.1`)
        : h;
      const sum = node('Add', `${path}/Add`, [y, shortcut], `${path}/Add_output_0`);
      h = relu(sum, `${path}/relu_out`);
    });
  });

  const pooled = node('GlobalAveragePool', '/global_pool/GlobalAveragePool', [h], '/global_pool/GlobalAveragePool_output_0');
  const flat = node('Flatten', '/Flatten', [pooled], spec.head.bnneck || opts.withLogits ? '/Flatten_output_0' : ONNX_OUTPUT, [int('axis', 1)]);
  let emb = flat;
  if (spec.head.bnneck) {
    if (!fold) {
      batchNorm(flat, 'bnneck', '/bnneck', ONNX_OUTPUT);
    } else {
      const { scale, shift } = bnAffine('bnneck');
      addInit('bnneck.scale', [scale.length], scale);
      addInit('bnneck.shift', [shift.length], shift);
      const m = node('Mul', '/bnneck/Mul', [flat, 'bnneck.scale'], '/bnneck/Mul_output_0');
      node('Add', '/bnneck/Add', [m, 'bnneck.shift'], ONNX_OUTPUT);
    }
    emb = ONNX_OUTPUT;
  } else if (opts.withLogits) {
    node('Identity', '/embedding/Identity', [flat], ONNX_OUTPUT);
    emb = ONNX_OUTPUT;
  }
  const batch: number | string = opts.batch ?? 'N';
  const outputs = [valueInfo(ONNX_OUTPUT, [batch, embeddingDim(spec)])];
  if (opts.withLogits) {
    const [d, k] = shapeOf.get('classifier.weight')!;
    addInit('classifier.weight', [k, d], transpose2d(get('classifier.weight'), d, k));
    addInit('classifier.bias', [k], get('classifier.bias'));
    node('Gemm', '/classifier/Gemm', [emb, 'classifier.weight', 'classifier.bias'], ONNX_LOGITS, [float('alpha', 1), float('beta', 1), int('transB', 1)]);
    outputs.push(valueInfo(ONNX_LOGITS, [batch, k]));
  }

  return encodeModel({
    irVersion: ONNX_IR_VERSION,
    opsetImport: [{ domain: '', version: ONNX_OPSET }],
    producerName: 'prunability-lab',
    producerVersion: '1',
    docString: `ResNet-${spec.depth} ReID feature extractor. Input "${ONNX_INPUT}": [N, 3, ${spec.input.height}, ${spec.input.width}] RGB in NCHW, ImageNet-normalised ((x/255 - mean) / std, mean 0.485/0.456/0.406, std 0.229/0.224/0.225). Output "${ONNX_OUTPUT}": [N, ${embeddingDim(spec)}].`,
    graph: {
      name: opts.graphName ?? `resnet${spec.depth}_reid`,
      node: nodes,
      initializer: initializers,
      input: [valueInfo(ONNX_INPUT, [batch, 3, spec.input.height, spec.input.width])],
      output: outputs,
    },
    metadataProps: [{ key: SPEC_METADATA_KEY, value: JSON.stringify(spec) }],
  });
}

/** Export a model in memory (reads its weights back asynchronously). */
export async function modelToOnnx(model: ReidModel, opts: OnnxExportOptions = {}): Promise<Uint8Array> {
  return exportOnnx(model.spec, await model.toArrays(), opts);
}
