import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { buildSpec, embeddingDim } from '../../src/engine/model/spec';
import { forward } from '../../src/engine/model/forward';
import { ReidModel } from '../../src/engine/model/model';
import { pruneArrays } from '../../src/engine/prune/surgery';
import { exportOnnx, ONNX_INPUT, ONNX_OUTPUT } from '../../src/engine/onnx/export';
import { decodeModel } from '../../src/engine/onnx/schema';
import { isLabError } from '../../src/engine/errors';
import { labEmbeddings, ortRun, randomArrays, randomImages, randomKeep, relMaxDiff } from './onnx-fixtures';

beforeAll(async () => {
  await tf.setBackend('wasm');
  await tf.ready();
});

const H = 64;
const W = 32;
const N = 2;

describe('ONNX export, run by onnxruntime-node', () => {
  const cases = [
    { depth: 18 as const, pruned: false },
    { depth: 18 as const, pruned: true },
    { depth: 50 as const, pruned: false },
    { depth: 50 as const, pruned: true },
  ];
  for (const { depth, pruned } of cases) {
    it(`ResNet-${depth} w0.25 ${pruned ? 'pruned (inner + trunk)' : 'unpruned'}: embeddings match the lab's within 1e-4, with BN nodes and folded`, async () => {
      const base = buildSpec({ depth, widthMultiplier: 0.25, inputHeight: H, inputWidth: W });
      let spec = base;
      let arrays = randomArrays(base, depth);
      if (pruned) ({ spec, arrays } = pruneArrays(base, arrays, randomKeep(base, 'inner+trunk', depth + 1)));
      if (pruned) expect(embeddingDim(spec)).toBeLessThan(embeddingDim(base));
      const before = tf.memory().numTensors;
      const { nhwc, nchw } = randomImages(N, H, W, 7);
      const ref = await labEmbeddings(spec, arrays, nhwc);
      nhwc.dispose();
      expect(tf.memory().numTensors).toBe(before);
      for (const fold of [false, true]) {
        const bytes = exportOnnx(spec, arrays, { foldBatchNorm: fold });
        const out = await ortRun(bytes, nchw, [N, 3, H, W]);
        expect(out[ONNX_OUTPUT].length).toBe(N * embeddingDim(spec));
        expect(relMaxDiff(ref, out[ONNX_OUTPUT])).toBeLessThan(1e-4);
        // The folded graph has no BatchNormalization nodes and no more Conv nodes than the other.
        const ops = decodeModel(bytes).graph!.node!.map((n) => n.opType);
        expect(ops.includes('BatchNormalization')).toBe(!fold);
      }
    });
  }

  it('lays the graph out as PyTorch does: named input/output, NCHW, dynamic batch, opset 17, state_dict names', () => {
    const spec = buildSpec({ depth: 18, widthMultiplier: 0.125, inputHeight: H, inputWidth: W });
    const m = decodeModel(exportOnnx(spec, randomArrays(spec, 1)));
    const g = m.graph!;
    expect(g.input!.map((v) => v.name)).toEqual([ONNX_INPUT]);
    const dims = g.input![0].type!.tensorType!.shape!.dim!;
    expect(dims[0].dimParam).toBe('N');
    expect(dims.slice(1).map((d) => d.dimValue)).toEqual([3, H, W]);
    expect(g.output!.map((v) => v.name)).toEqual([ONNX_OUTPUT]);
    expect(m.opsetImport![0].version).toBe(17);
    const names = new Set(g.initializer!.map((t) => t.name));
    expect(names.has('layer2.0.downsample.0.weight')).toBe(true);
    expect(names.has('bnneck.running_var')).toBe(true);
    // Conv weights are [out, in, kh, kw].
    const c = g.initializer!.find((t) => t.name === 'layer1.0.conv1.weight')!;
    expect(c.dims).toEqual([spec.stages[0][0].mid[0], spec.stemC, 3, 3]);
    const ops = g.node!.map((n) => n.opType);
    // 20 convs in ResNet-18 with its 3 projection shortcuts, each followed by a BN, plus the BNNeck.
    expect(ops.filter((o) => o === 'Conv').length).toBe(20);
    expect(ops.filter((o) => o === 'BatchNormalization').length).toBe(21);
    expect(ops.filter((o) => o === 'Add').length).toBe(8);
  });

  it('exports the classifier as a Gemm whose logits match the lab forward pass; a fixed batch works too', async () => {
    const spec = buildSpec({ depth: 18, widthMultiplier: 0.125, inputHeight: H, inputWidth: W, numClasses: 5, bnneck: false });
    const arrays = randomArrays(spec, 3);
    const { nhwc, nchw } = randomImages(N, H, W, 9);
    const model = ReidModel.fromArrays(spec, arrays);
    const [emb, logits] = tf.tidy(() => {
      const r = forward(model.spec, model.params, nhwc, { withLogits: true });
      return [r.embedding, r.logits!];
    });
    const refE = (await emb.data()) as Float32Array;
    const refL = (await logits.data()) as Float32Array;
    tf.dispose([emb, logits, nhwc]);
    model.dispose();
    const out = await ortRun(exportOnnx(spec, arrays, { withLogits: true, batch: N }), nchw, [N, 3, H, W]);
    expect(relMaxDiff(refE, out.embedding)).toBeLessThan(1e-4);
    expect(out.logits.length).toBe(N * 5);
    expect(relMaxDiff(refL, out.logits)).toBeLessThan(1e-4);
  });

  it('refuses logits without a classifier and weights that do not fit the spec', () => {
    const spec = buildSpec({ depth: 18, widthMultiplier: 0.125 });
    const arrays = randomArrays(spec, 1);
    const err = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return e;
      }
      return undefined;
    };
    expect(isLabError(err(() => exportOnnx(spec, arrays, { withLogits: true })), 'bad-argument')).toBe(true);
    const short = new Map(arrays);
    short.set('layer1.0.conv1.weight', new Float32Array(3));
    const e = err(() => exportOnnx(spec, short));
    expect(isLabError(e, 'bad-argument')).toBe(true);
    expect((e as Error).message).toContain('layer1.0.conv1.weight');
  });
});
