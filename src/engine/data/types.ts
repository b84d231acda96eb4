/**
 * In-memory ReID data as the engine uses it: decoded RGB images of one size, with identity and
 * camera labels. Shared by the synthetic benchmark, the real-dataset loaders, training and
 * evaluation.
 *
 * Identity conventions (Market-1501): pid -1 is junk (ignored in evaluation), pid 0 is a
 * distractor (gallery only; never a match). Camera ids are 1-based as in file names (c1..c6).
 */

export interface ReidSplit {
  /** Images, row-major RGB bytes: [count, height, width, 3]. */
  images: Uint8Array;
  count: number;
  height: number;
  width: number;
  /** Identity per image (-1 junk, 0 distractor, >0 a person). */
  pids: Int32Array;
  /** Camera per image, 1-based. */
  camids: Int32Array;
  /** Original file names (Market-1501 style), when known. */
  names?: string[];
}

export interface ReidDataset {
  /** e.g. "SynthReID-S/target" or "Market-1501". */
  name: string;
  train: ReidSplit;
  query: ReidSplit;
  gallery: ReidSplit;
}

/** Bytes of image i of a split (a view, not a copy). */
export function imageView(split: ReidSplit, i: number): Uint8Array {
  const n = split.height * split.width * 3;
  return split.images.subarray(i * n, (i + 1) * n);
}

/** A new split holding the chosen images of another (copies). */
export function subsetSplit(split: ReidSplit, indices: readonly number[]): ReidSplit {
  const n = split.height * split.width * 3;
  const images = new Uint8Array(indices.length * n);
  const pids = new Int32Array(indices.length);
  const camids = new Int32Array(indices.length);
  const names = split.names ? [] as string[] : undefined;
  indices.forEach((src, dst) => {
    images.set(split.images.subarray(src * n, (src + 1) * n), dst * n);
    pids[dst] = split.pids[src];
    camids[dst] = split.camids[src];
    if (names && split.names) names.push(split.names[src]);
  });
  return { images, count: indices.length, height: split.height, width: split.width, pids, camids, names };
}
