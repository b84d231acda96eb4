/**
 * The filters behind a dependency group's channels, as plain arrays, for the weight-based
 * criteria. Channel j's filter is the concatenation of W[:, :, :, j] over the group's producer
 * convs (tfjs layout [kh, kw, in, out]), in the group's member order: one producer for an inner
 * group, several for a trunk (the last conv of every block of the stage and the projection
 * shortcut, plus the stem conv for "trunk1" of basic-block nets). Concatenating makes a trunk
 * channel's L1 norm the sum of its producers' L1 norms, and its L2 norm the l2 norm over all of
 * them, so the trunk is scored as the one unit that surgery removes.
 */
import * as tf from '@tensorflow/tfjs';
import type { ReidModel } from '../../model/model';
import { LabError } from '../../errors';
import { producerBatchNorms, producerConvs, type DependencyGroup } from '../groups';

/** One row per channel: rows[j] is channel j's concatenated filter. */
export interface GroupFilters {
  channels: number;
  /** Length of each row: sum over producers of kh * kw * in. */
  length: number;
  rows: Float64Array[];
}

function param(model: ReidModel, group: DependencyGroup, name: string) {
  const v = model.params.get(name);
  if (!v) throw new LabError('bad-argument', `Group "${group.id}" names parameter ${name}, which this model does not have; the groups were computed for a different model.`);
  return v;
}

/** Check a group against the model: its producers must have `group.channels` outputs. */
export function checkGroupAgainstModel(model: ReidModel, group: DependencyGroup): void {
  for (const name of producerConvs(group)) {
    const v = param(model, group, name);
    const out = v.shape[3];
    if (out !== group.channels) {
      throw new LabError(
        'bad-argument',
        `Group "${group.id}" has ${group.channels} channels, but its producer ${name} has ${out} filters; the groups were computed for a different model.`,
        { group: group.id },
      );
    }
  }
}

/** Concatenated producer filters of a group (async read-back). */
export async function groupFilters(model: ReidModel, group: DependencyGroup): Promise<GroupFilters> {
  checkGroupAgainstModel(model, group);
  const names = producerConvs(group);
  const datas = await Promise.all(names.map((n) => param(model, group, n).data() as Promise<Float32Array>));
  const c = group.channels;
  const length = datas.reduce((s, d) => s + d.length / c, 0);
  const rows = Array.from({ length: c }, () => new Float64Array(length));
  let offset = 0;
  for (const d of datas) {
    // Row-major [kh, kw, in, out]: element a of filter j sits at a * out + j.
    const per = d.length / c;
    for (let a = 0; a < per; a++) for (let j = 0; j < c; j++) rows[j][offset + a] = d[a * c + j];
    offset += per;
  }
  return { channels: c, length, rows };
}

/** The gammas of the BatchNorms that produce a group's channels, one array per BN. */
export async function producerGammas(model: ReidModel, group: DependencyGroup): Promise<Float32Array[]> {
  const names = producerBatchNorms(group).map((p) => `${p}.weight`);
  const datas = await Promise.all(names.map((n) => param(model, group, n).data() as Promise<Float32Array>));
  datas.forEach((d, i) => {
    if (d.length !== group.channels) {
      throw new LabError('bad-argument', `Group "${group.id}" has ${group.channels} channels, but ${names[i]} has ${d.length}; the groups were computed for a different model.`);
    }
  });
  return datas;
}

/**
 * Gram matrix of the rows (row_a · row_b), C x C in float64. The products run as one matMul on the
 * backend (a full-width trunk has 512 filters of ~9,000 weights; plain JS loops took seconds).
 */
export async function rowGram(rows: readonly Float64Array[]): Promise<Float64Array> {
  const c = rows.length;
  const d = c > 0 ? rows[0].length : 0;
  if (c === 0 || d === 0) return new Float64Array(c * c);
  const flat = new Float32Array(c * d);
  rows.forEach((r, i) => flat.set(r, i * d));
  const g = tf.tidy(() => {
    const f = tf.tensor2d(flat, [c, d]);
    // An explicit transpose: wasm's matMul with transposeB was 10x slower (measured).
    return tf.matMul(f, tf.transpose(f));
  });
  try {
    return Float64Array.from((await g.data()) as Float32Array);
  } finally {
    g.dispose();
  }
}
