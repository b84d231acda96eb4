import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { buildSpec, cloneSpec, type Depth } from '../../src/engine/model/spec';
import { listParams } from '../../src/engine/model/names';
import { ReidModel } from '../../src/engine/model/model';
import { formatMacs, layerCosts, modelCost } from '../../src/engine/cost/macs';
import { measureLatency, percentile } from '../../src/engine/cost/latency';

beforeAll(async () => {
  await tf.setBackend('wasm');
  await tf.ready();
});

describe('MACs and parameters', () => {
  // torchvision's published figures: 224x224, 1000-class fc, last stride 2, no BNNeck.
  const known: [Depth, number, number][] = [
    [18, 1.81, 11_689_512],
    [34, 3.66, 21_797_672],
    [50, 4.09, 25_557_032],
  ];
  for (const [depth, gmacs, params] of known) {
    it(`ResNet-${depth} at 224x224: ${gmacs} GMACs, ${params} params with fc`, () => {
      const spec = buildSpec({ depth, lastStride: 2, inputHeight: 224, inputWidth: 224, bnneck: false, numClasses: 1000 });
      const c = modelCost(spec);
      expect(c.macsWithClassifier / 1e9).toBeCloseTo(gmacs, 2);
      expect(c.paramsWithClassifier).toBe(params);
      // The extractor excludes exactly the fc: 2048 (or 512) x 1000 weights + 1000 biases.
      const feat = depth === 50 ? 2048 : 512;
      expect(c.params).toBe(params - feat * 1000 - 1000);
      expect(c.macs).toBe(c.macsWithClassifier - feat * 1000);
    });
  }

  it('matches a hand-worked ResNet-18 at width 1/64 (channels 1, 2, 4, 8), 32x32, BNNeck, 10 classes', () => {
    const spec = buildSpec({ depth: 18, widthMultiplier: 1 / 64, inputHeight: 32, inputWidth: 32, lastStride: 1, numClasses: 10 });
    const c = modelCost(spec);
    // Stem: 7x7/2 conv 3->1 gives 16x16; max pool -> 8x8.
    const stem = 16 * 16 * 1 * 3 * 49;
    // layer1 at 8x8, 1 channel: four 3x3 convs 1->1.
    const l1 = 4 * (8 * 8 * 1 * 1 * 9);
    // layer2 at 4x4: conv1 1->2 (stride 2), conv2 2->2, downsample 1x1 1->2, then two 3x3 2->2.
    const l2 = 16 * 2 * 1 * 9 + 16 * 2 * 2 * 9 + 16 * 2 * 1 + 2 * (16 * 2 * 2 * 9);
    // layer3 at 2x2: 2->4, 4->4, ds 2->4, two 4->4.
    const l3 = 4 * 4 * 2 * 9 + 4 * 4 * 4 * 9 + 4 * 4 * 2 + 2 * (4 * 4 * 4 * 9);
    // layer4 stays 2x2 (last stride 1): 4->8, 8->8, ds 4->8, two 8->8.
    const l4 = 4 * 8 * 4 * 9 + 4 * 8 * 8 * 9 + 4 * 8 * 4 + 2 * (4 * 8 * 8 * 9);
    expect(stem + l1 + l2 + l3 + l4).toBe(52224);
    expect(c.macs).toBe(52224);
    expect(c.macsWithClassifier).toBe(52224 + 8 * 10);
    // Params: conv weights, BN gamma+beta (2 per channel), BNNeck 2x8, fc 8x10+10.
    const convW = 3 * 49 + 4 * 9 + (2 * 9 + 4 * 9 + 2 + 2 * 4 * 9) + (8 * 9 + 16 * 9 + 8 + 2 * 16 * 9) + (32 * 9 + 64 * 9 + 32 + 2 * 64 * 9);
    const bn = 2 * (1 + 4 * 1 + 5 * 2 + 5 * 4 + 5 * 8) + 2 * 8;
    expect(c.params).toBe(convW + bn);
    expect(c.paramsWithClassifier).toBe(convW + bn + 90);
    expect(c.layers.find((l) => l.name === 'layer4.0.conv1')!.out).toEqual([2, 2, 8]);
  });

  it('counts parameters consistently with the parameter list (minus running statistics)', () => {
    for (const depth of [18, 50] as Depth[]) {
      const spec = buildSpec({ depth, widthMultiplier: 0.25, numClasses: 7 });
      const fromNames = listParams(spec)
        .filter((p) => !p.role.startsWith('bn.running'))
        .reduce((n, p) => n + p.shape.reduce((a, b) => a * b, 1), 0);
      expect(modelCost(spec).paramsWithClassifier).toBe(fromNames);
    }
  });

  it('pruning one bottleneck\'s inner channels changes exactly its own convs, linearly', () => {
    const spec = buildSpec({ depth: 50, widthMultiplier: 0.25, lastStride: 1 });
    const pruned = cloneSpec(spec);
    const b = pruned.stages[2][3];
    const [m0, m1] = b.mid;
    b.mid = [m0 / 2, m1];
    const full = layerCosts(spec);
    const half = layerCosts(pruned);
    const diff = full.map((l, i) => [l.name, l.macs - half[i].macs] as const).filter(([, d]) => d !== 0);
    const c1 = full.find((l) => l.name === 'layer3.3.conv1')!.macs;
    const c2 = full.find((l) => l.name === 'layer3.3.conv2')!.macs;
    expect(diff).toEqual([
      ['layer3.3.conv1', c1 / 2],
      ['layer3.3.conv2', c2 / 2],
    ]);
  });

  it('last stride 1 quadruples layer4\'s spatial work', () => {
    const s2 = layerCosts(buildSpec({ depth: 34, lastStride: 2, inputHeight: 256, inputWidth: 128 }));
    const s1 = layerCosts(buildSpec({ depth: 34, lastStride: 1, inputHeight: 256, inputWidth: 128 }));
    const l4 = (ls: typeof s1) => ls.filter((l) => l.name.startsWith('layer4')).reduce((n, l) => n + l.macs, 0);
    expect(l4(s1)).toBe(4 * l4(s2));
  });

  it('formats MACs', () => {
    expect(formatMacs(4_089_184_256)).toBe('4.09 GMACs');
    expect(formatMacs(312_400_000)).toBe('312.4 MMACs');
  });
});

describe('measured latency', () => {
  it('percentile interpolates linearly between ranks', () => {
    const v = [10, 20, 30, 40, 50];
    expect(percentile(v, 0.5)).toBe(30);
    expect(percentile(v, 0.1)).toBeCloseTo(14, 10);
    expect(percentile(v, 0.9)).toBeCloseTo(46, 10);
    expect(percentile([7], 0.9)).toBe(7);
  });

  it('times batched forwards without leaking tensors', async () => {
    const model = ReidModel.init(buildSpec({ depth: 18, widthMultiplier: 0.125, inputHeight: 64, inputWidth: 32 }), 1);
    const before = tf.memory().numTensors;
    let calls = 0;
    const r = await measureLatency(model, { batch: 4, warmup: 1, repeats: 5, onRun: () => calls++ });
    expect(tf.memory().numTensors).toBe(before);
    expect(calls).toBe(5);
    expect(r.backend).toBe('wasm');
    expect(r.samplesMs).toHaveLength(5);
    const sorted = [...r.samplesMs].sort((a, b) => a - b);
    expect(r.p10Ms).toBeGreaterThanOrEqual(sorted[0]);
    expect(r.p10Ms).toBeLessThanOrEqual(r.medianMs);
    expect(r.medianMs).toBeLessThanOrEqual(r.p90Ms);
    expect(r.p90Ms).toBeLessThanOrEqual(sorted[4]);
    expect(r.medianMs).toBe(sorted[2]);
    expect(r.imagesPerSecond).toBeCloseTo((4 * 1000) / r.medianMs, 6);
    await expect(measureLatency(model, { batch: 0 })).rejects.toMatchObject({ code: 'bad-argument' });
    model.dispose();
  });
});
