import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { buildSpec, type ResNetSpec } from '../../src/engine/model/spec';
import type { ParamArrays } from '../../src/engine/model/init';
import { pruneArrays } from '../../src/engine/prune/surgery';
import { exportOnnx } from '../../src/engine/onnx/export';
import { importOnnx } from '../../src/engine/onnx/import';
import { decodeModel, encodeModel, DataType, type ModelMsg, type NodeMsg, type TensorMsg } from '../../src/engine/onnx/schema';
import { isLabError, type LabError } from '../../src/engine/errors';
import { labEmbeddings, ortRun, randomArrays, randomImages, randomKeep, relMaxDiff } from './onnx-fixtures';

beforeAll(async () => {
  await tf.setBackend('wasm');
  await tf.ready();
});

const H = 64;
const W = 32;
const N = 2;

function floats(t: TensorMsg): Float32Array {
  const r = t.rawData!;
  const dv = new DataView(r.buffer, r.byteOffset, r.byteLength);
  return Float32Array.from({ length: r.byteLength / 4 }, (_, i) => dv.getFloat32(i * 4, true));
}
function tensor(name: string, dims: number[], v: Float32Array): TensorMsg {
  const raw = new Uint8Array(v.length * 4);
  const dv = new DataView(raw.buffer);
  v.forEach((x, i) => dv.setFloat32(i * 4, x, true));
  return { name, dims, dataType: DataType.FLOAT, rawData: raw };
}

/**
 * What PyTorch's exporter makes of a model in eval mode, built here independently of the
 * lab's folding code: every Conv+BatchNormalization fused into a Conv with bias (W * gamma /
 * sqrt(var + eps), beta - mean * gamma / sqrt(var + eps)), initializers renamed "onnx::Conv_k",
 * no lab metadata, a fixed batch, and the BNNeck with epsilon 1e-3 (running variance lowered
 * to compensate, so the network computes the same function).
 */
function torchStyleFolded(bytes: Uint8Array, batch: number): Uint8Array {
  const m = decodeModel(bytes);
  const g = m.graph!;
  const inits = new Map(g.initializer!.map((t) => [t.name!, t]));
  const producer = new Map<string, NodeMsg>();
  for (const n of g.node!) for (const o of n.output!) producer.set(o, n);
  const kept: NodeMsg[] = [];
  const newInits: TensorMsg[] = [];
  let k = 0;
  for (const n of g.node!) {
    const conv = n.opType === 'BatchNormalization' ? producer.get(n.input![0]) : undefined;
    if (n.opType === 'BatchNormalization' && conv?.opType === 'Conv') {
      const eps = n.attribute!.find((a) => a.name === 'epsilon')!.f!;
      const [gamma, beta, mean, v] = n.input!.slice(1).map((x) => floats(inits.get(x)!));
      const wT = inits.get(conv.input![1])!;
      const w = floats(wT);
      const cout = gamma.length;
      const per = w.length / cout;
      const bias = new Float32Array(cout);
      for (let o = 0; o < cout; o++) {
        const s = gamma[o] / Math.sqrt(v[o] + eps);
        for (let j = 0; j < per; j++) w[o * per + j] *= s;
        bias[o] = beta[o] - mean[o] * s;
      }
      const wn = `onnx::Conv_${k++}`;
      const bn = `onnx::Conv_${k++}`;
      newInits.push(tensor(wn, wT.dims!.map(Number), w), tensor(bn, [cout], bias));
      conv.input = [conv.input![0], wn, bn];
      conv.output = n.output;
      continue;
    }
    if (n.opType === 'BatchNormalization') {
      // The BNNeck: epsilon 1e-3 instead of 1e-5, same function.
      const epsAttr = n.attribute!.find((a) => a.name === 'epsilon')!;
      const d = 1e-3 - epsAttr.f!;
      epsAttr.f = 1e-3;
      const names = n.input!.slice(1).map(() => `onnx::BatchNormalization_${k++}`);
      n.input!.slice(1).forEach((x, i) => {
        const t = inits.get(x)!;
        const v = floats(t);
        newInits.push(tensor(names[i], t.dims!.map(Number), i === 3 ? v.map((y) => y - d) : v));
      });
      n.input = [n.input![0], ...names];
    }
    kept.push(n);
  }
  for (const n of kept) if (n.opType !== 'Conv' && n.opType !== 'BatchNormalization') for (const i of n.input ?? []) if (inits.has(i)) newInits.push(inits.get(i)!);
  g.node = kept;
  g.initializer = newInits;
  g.input![0].type!.tensorType!.shape!.dim![0] = { dimValue: batch };
  g.output![0].type!.tensorType!.shape!.dim![0] = { dimValue: batch };
  m.metadataProps = [];
  return encodeModel(m);
}

function catchErr(f: () => unknown): LabError {
  try {
    f();
  } catch (e) {
    if (isLabError(e)) return e;
    throw e;
  }
  throw new Error('expected a LabError');
}

describe('ONNX import', () => {
  it('gives back exactly the spec and weights of lab exports (ResNet-18, ResNet-50, pruned ResNet-50)', () => {
    const specs: [ResNetSpec, ParamArrays][] = [];
    for (const depth of [18, 50] as const) {
      const spec = buildSpec({ depth, widthMultiplier: 0.25, inputHeight: 96, inputWidth: 48, lastStride: depth === 18 ? 2 : 1, numClasses: 7 });
      specs.push([spec, randomArrays(spec, depth)]);
    }
    const [s50, a50] = specs[1];
    const p = pruneArrays(s50, a50, randomKeep(s50, 'inner+trunk', 3));
    specs.push([p.spec, p.arrays]);
    for (const [spec, arrays] of specs) {
      const imp = importOnnx(exportOnnx(spec, arrays, { withLogits: true }));
      expect(imp.spec).toEqual(spec);
      // Bitwise equal (toEqual on large typed arrays is slow).
      const differing = [...arrays].filter(([name, v]) => {
        const got = imp.arrays.get(name);
        return !got || Buffer.compare(Buffer.from(got.buffer, got.byteOffset, got.byteLength), Buffer.from(v.buffer, v.byteOffset, v.byteLength)) !== 0;
      });
      expect(differing.map(([n]) => n)).toEqual([]);
      expect(imp.arrays.size).toBe(arrays.size);
    }
  });

  for (const depth of [18, 50] as const) {
    it(`ResNet-${depth} with BatchNorm folded into the convs (as PyTorch exports it): same embeddings within 1e-4`, async () => {
      const base = buildSpec({ depth, widthMultiplier: 0.25, inputHeight: H, inputWidth: W, lastStride: 2 });
      const { spec, arrays } = pruneArrays(base, randomArrays(base, 10 + depth), randomKeep(base, 'inner', 4));
      const folded = torchStyleFolded(exportOnnx(spec, arrays), N);
      const ops = decodeModel(folded).graph!.node!.map((n) => n.opType);
      expect(ops.filter((o) => o === 'BatchNormalization').length).toBe(1); // only the BNNeck is left
      const { nhwc, nchw } = randomImages(N, H, W, 5);
      const ref = await labEmbeddings(spec, arrays, nhwc);
      // The hand-folded graph itself computes the model (checks the fixture, not the importer).
      expect(relMaxDiff(ref, (await ortRun(folded, nchw, [N, 3, H, W])).embedding)).toBeLessThan(1e-4);

      const imp = importOnnx(folded);
      // Channel counts, depth, input size (from the static input shape) and last stride (from the strides) recovered.
      expect(imp.spec.stages).toEqual(spec.stages);
      expect(imp.spec.stemC).toBe(spec.stemC);
      expect(imp.spec.input).toEqual({ height: H, width: W });
      expect(imp.spec.lastStride).toBe(2);
      expect(imp.spec.head).toEqual({ bnneck: true, numClasses: 0 });
      expect(imp.notes.join(' ')).toMatch(/folded/);
      expect(imp.notes.join(' ')).toMatch(/epsilon/);
      // Folded layers became identity BNs carrying the conv bias.
      expect(Array.from(imp.arrays.get('bn1.weight')!)).toEqual(new Array(spec.stemC).fill(1));
      const got = await labEmbeddings(imp.spec, imp.arrays, nhwc);
      nhwc.dispose();
      expect(relMaxDiff(ref, got)).toBeLessThan(1e-4);
    });
  }

  it('names the first node that does not fit a ResNet', () => {
    const spec = buildSpec({ depth: 18, widthMultiplier: 0.125, inputHeight: H, inputWidth: W });
    const m: ModelMsg = decodeModel(exportOnnx(spec, randomArrays(spec, 1)));
    const nodes = m.graph!.node!;
    const relu = nodes.findIndex((n) => n.opType === 'Relu');
    const reluOut = nodes[relu].output![0];
    nodes.splice(relu + 1, 0, { opType: 'Sigmoid', name: 'my_odd_sigmoid', input: [reluOut], output: ['sig'] });
    nodes.find((n) => n.opType === 'MaxPool')!.input = ['sig'];
    const e = catchErr(() => importOnnx(encodeModel(m)));
    expect(e.code).toBe('bad-onnx');
    expect(e.message).toContain('my_odd_sigmoid');
    expect(e.message).toContain('Sigmoid');
    expect(e.message).toContain('MaxPool');
  });

  it('refuses a side branch, a grouped conv, NHWC input and bytes that are not ONNX', () => {
    const spec = buildSpec({ depth: 18, widthMultiplier: 0.125, inputHeight: H, inputWidth: W });
    const bytes = exportOnnx(spec, randomArrays(spec, 2));

    const branch = decodeModel(bytes);
    const someRelu = branch.graph!.node!.filter((n) => n.opType === 'Relu')[3];
    branch.graph!.node!.push({ opType: 'Tanh', name: 'extra_tanh', input: [someRelu.output![0]], output: ['t'] });
    const e1 = catchErr(() => importOnnx(encodeModel(branch)));
    expect(e1.code).toBe('bad-onnx');
    expect(e1.message).toContain('extra_tanh');

    const grouped = decodeModel(bytes);
    const conv = grouped.graph!.node!.filter((n) => n.opType === 'Conv')[2];
    conv.attribute!.find((a) => a.name === 'group')!.i = 2;
    const e2 = catchErr(() => importOnnx(encodeModel(grouped)));
    expect(e2.message).toContain(conv.name!);
    expect(e2.message).toContain('group 2');

    const nhwc = decodeModel(bytes);
    nhwc.graph!.input![0].type!.tensorType!.shape!.dim = [{ dimValue: 1 }, { dimValue: H }, { dimValue: W }, { dimValue: 3 }];
    expect(catchErr(() => importOnnx(encodeModel(nhwc))).message).toMatch(/\[N, 3, H, W\]/);

    expect(catchErr(() => importOnnx(new Uint8Array([0xff, 0xff, 0xff, 0x01, 0x02]))).code).toBe('bad-onnx');
    expect(catchErr(() => importOnnx(new Uint8Array(0))).code).toBe('bad-onnx');
  });

  it('refuses a graph with three stages, saying how many it found', () => {
    // A ResNet-18 with layer4 cut off: layer3's output goes straight to the pooling.
    const spec = buildSpec({ depth: 18, widthMultiplier: 0.125, inputHeight: H, inputWidth: W, bnneck: false });
    const m = decodeModel(exportOnnx(spec, randomArrays(spec, 3)));
    const nodes = m.graph!.node!;
    const firstL4 = nodes.findIndex((n) => n.name!.startsWith('/layer4/'));
    const l3Out = nodes[firstL4].input![0];
    const gap = nodes.find((n) => n.opType === 'GlobalAveragePool')!;
    gap.input = [l3Out];
    m.graph!.node = nodes.filter((n) => !n.name!.startsWith('/layer4/'));
    m.metadataProps = [];
    const e = catchErr(() => importOnnx(encodeModel(m)));
    expect(e.code).toBe('bad-onnx');
    expect(e.message).toMatch(/3 stages/);
  });
});
