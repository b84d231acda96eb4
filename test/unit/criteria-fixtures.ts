/**
 * Shared fixtures of the criteria tests: a ResNet-18 at width 1/16 (stem 4 channels, stages 4,
 * 8, 16, 32) on 64x32 images, a small synthetic split, and an independent hand-built computation
 * of layer1.0's inner activation (the site of group "layer1.0.conv1").
 */
import * as tf from '@tensorflow/tfjs';
import { buildSpec, type ResNetSpec } from '../../src/engine/model/spec';
import { initParamArrays, type ParamArrays } from '../../src/engine/model/init';
import { BN_EPS } from '../../src/engine/model/forward';
import { normalizeImages } from '../../src/engine/data/preprocess';
import { dependencyGroups, type DependencyGroup } from '../../src/engine/prune/groups';
import { syntheticSplit } from './train-fixtures';

export const H = 64;
export const W = 32;
export const spec: ResNetSpec = buildSpec({ depth: 18, widthMultiplier: 0.0625, inputHeight: H, inputWidth: W });
const groupById = new Map(dependencyGroups(spec).map((g) => [g.id, g]));
export const group = (id: string): DependencyGroup => groupById.get(id)!;
export const split = syntheticSplit({ ids: 4, perId: 4, height: H, width: W, seed: 11 });
export const G1 = 'layer1.0.conv1';

/**
 * In layer1.0's inner group: channel 0 is dead (gamma = beta = 0, so BN outputs 0 and ReLU keeps
 * it 0 for every image), channel 3 duplicates channel 2 (same filter, same BN).
 */
export function arrays(): ParamArrays {
  const a = initParamArrays(spec, 4);
  const w = a.get('layer1.0.conv1.weight')!; // [3, 3, 4, 4]
  for (let r = 0; r < w.length / 4; r++) w[r * 4 + 3] = w[r * 4 + 2];
  const gamma = a.get('layer1.0.bn1.weight')!;
  const beta = a.get('layer1.0.bn1.bias')!;
  gamma.set([0, 1.3, 0.8, 0.8]);
  beta.set([0, 0.1, -0.05, -0.05]);
  return a;
}

/** Independent: layer1.0.conv1's activation (eval mode) from the stem up, by hand. */
export function layer1Activation(a: ParamArrays, x: tf.Tensor4D): tf.Tensor4D {
  const t = (name: string, shape: number[]) => tf.tensor(a.get(name)!, shape);
  const bn = (h: tf.Tensor4D, p: string, c: number) => {
    const scale = tf.mul(t(`${p}.weight`, [c]), tf.rsqrt(tf.add(t(`${p}.running_var`, [c]), BN_EPS)));
    const shift = tf.sub(t(`${p}.bias`, [c]), tf.mul(t(`${p}.running_mean`, [c]), scale));
    return tf.add(tf.mul(h, scale), shift) as tf.Tensor4D;
  };
  return tf.tidy(() => {
    let h = tf.conv2d(x, t('conv1.weight', [7, 7, 3, 4]) as tf.Tensor4D, 2, [[0, 0], [3, 3], [3, 3], [0, 0]]);
    h = tf.maxPool(tf.relu(bn(h, 'bn1', 4)), 3, 2, 1);
    return tf.relu(bn(tf.conv2d(h, t('layer1.0.conv1.weight', [3, 3, 4, 4]) as tf.Tensor4D, 1, [[0, 0], [1, 1], [1, 1], [0, 0]]), 'layer1.0.bn1', 4));
  });
}

/** Pooled responses [n, 4] of every image of the split. */
export function pooledLayer1(a: ParamArrays): number[][] {
  const x = normalizeImages(split.images, split.count, H, W);
  const p = tf.tidy(() => tf.mean(layer1Activation(a, x), [1, 2]));
  const v = p.arraySync() as number[][];
  x.dispose();
  p.dispose();
  return v;
}

