/**
 * Image preprocessing shared by training and evaluation: RGB bytes -> ImageNet-normalised
 * float NHWC tensors, the normalisation torchvision/torchreid backbones expect.
 */
import * as tf from '@tensorflow/tfjs';
import type { ReidSplit } from './types';

export const IMAGENET_MEAN = [0.485, 0.456, 0.406] as const;
export const IMAGENET_STD = [0.229, 0.224, 0.225] as const;

/** Normalise bytes [n, h, w, 3] (0..255) into a float tensor. */
export function normalizeImages(bytes: Uint8Array, n: number, height: number, width: number): tf.Tensor4D {
  const expected = n * height * width * 3;
  if (bytes.length !== expected) {
    throw new RangeError(`Expected ${expected} bytes for ${n} images of ${height}x${width} RGB; got ${bytes.length}.`);
  }
  return tf.tidy(() => {
    const x = tf.tensor4d(bytes, [n, height, width, 3], 'int32').toFloat().div(255);
    return x.sub(tf.tensor1d(IMAGENET_MEAN as unknown as number[])).div(tf.tensor1d(IMAGENET_STD as unknown as number[])) as tf.Tensor4D;
  });
}

/** Normalised tensor of images [start, start + n) of a split. */
export function splitBatch(split: ReidSplit, start: number, n: number): tf.Tensor4D {
  const size = split.height * split.width * 3;
  const end = Math.min(split.count, start + n);
  return normalizeImages(split.images.subarray(start * size, end * size), end - start, split.height, split.width);
}

/** Normalised tensor of the chosen images of a split. */
export function gatherBatch(split: ReidSplit, indices: readonly number[]): tf.Tensor4D {
  const size = split.height * split.width * 3;
  const bytes = new Uint8Array(indices.length * size);
  indices.forEach((src, dst) => bytes.set(split.images.subarray(src * size, (src + 1) * size), dst * size));
  return normalizeImages(bytes, indices.length, split.height, split.width);
}
