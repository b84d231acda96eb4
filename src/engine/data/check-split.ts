/**
 * A split's buffers must agree with its count and image size before any of it becomes a
 * tensor: a short image buffer (a truncated transfer, a hand-built split) would otherwise
 * surface as a RangeError from deep inside preprocessing, or train on the wrong pixels.
 */
import { LabError } from '../errors';
import type { ReidSplit } from './types';

/** Throws LabError('bad-dataset') naming the split (`what`, e.g. "query") and the mismatch. */
export function checkSplitLayout(split: ReidSplit, what: string): void {
  const { count, height, width } = split;
  if (!Number.isInteger(count) || count < 0) throw new LabError('bad-dataset', `The ${what} set's image count must be a whole number; found ${String(count)}.`);
  if (!Number.isInteger(height) || !Number.isInteger(width) || height < 1 || width < 1) {
    throw new LabError('bad-dataset', `The ${what} set's image size must be positive whole numbers; found ${String(height)} x ${String(width)}.`);
  }
  const need = count * height * width * 3;
  if (!split.images || split.images.length !== need) {
    throw new LabError(
      'bad-dataset',
      `The ${what} set (${count} images) holds ${split.images?.length ?? 0} bytes of image data; ${count} images of ${height} x ${width} RGB need ${need}.`,
    );
  }
  if (split.pids?.length !== count || split.camids?.length !== count) {
    throw new LabError('bad-dataset', `The ${what} set has ${count} images but ${split.pids?.length ?? 0} identities and ${split.camids?.length ?? 0} cameras.`);
  }
}
