/**
 * Channel surgery: physically remove the dropped channels, so the pruned model is smaller and
 * faster rather than masked. Every member of a group is sliced along its axis with the same
 * kept indices, which makes the pruned network compute exactly what the masked network computes.
 */
import type { ResNetSpec } from '../model/spec';
import { listParams } from '../model/names';
import type { ParamArrays } from '../model/init';
import { ReidModel } from '../model/model';
import { LabError } from '../errors';
import { groupLayout } from './groups';
import { keepCounts, prunedSpec, validateKeepSets } from './keep-set';

/** Gather `idx` along `axis` of a row-major array of `shape`; returns the new array and shape. */
export function gatherAxis(data: Float32Array, shape: readonly number[], axis: number, idx: readonly number[]): { data: Float32Array; shape: number[] } {
  const inner = shape.slice(axis + 1).reduce((a, b) => a * b, 1);
  const n = shape[axis];
  const outer = shape.slice(0, axis).reduce((a, b) => a * b, 1);
  const k = idx.length;
  const out = new Float32Array(outer * k * inner);
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < k; j++) {
      const src = (o * n + idx[j]) * inner;
      out.set(data.subarray(src, src + inner), (o * k + j) * inner);
    }
  }
  const newShape = shape.slice();
  newShape[axis] = k;
  return { data: out, shape: newShape };
}

/**
 * Slice every parameter with the keep-set. Pure: validates everything first, then builds new
 * arrays; the inputs are never written, and parameters no group touches are copied.
 */
export function pruneArrays(spec: ResNetSpec, arrays: ParamArrays, keep: ReadonlyMap<string, readonly number[]>): { spec: ResNetSpec; arrays: ParamArrays } {
  validateKeepSets(spec, keep);
  const infos = listParams(spec);
  for (const info of infos) {
    const a = arrays.get(info.name);
    const n = info.shape.reduce((x, y) => x * y, 1);
    if (!a) throw new LabError('bad-weights', `The weights have no parameter ${info.name}, which this ResNet-${spec.depth} needs.`, { tensor: info.name });
    if (a.length !== n) {
      throw new LabError('bad-weights', `Parameter ${info.name} should have ${n} values for shape [${info.shape.join(', ')}]; found ${a.length}.`, {
        tensor: info.name,
        expected: n,
        found: a.length,
      });
    }
  }
  const newSpec = prunedSpec(spec, keepCounts(spec, keep));

  // Per parameter, the (axis, kept indices) slices that apply to it.
  const cuts = new Map<string, { axis: number; idx: readonly number[] }[]>();
  for (const g of groupLayout(spec).groups) {
    const idx = keep.get(g.id);
    if (!idx || idx.length === g.channels) continue;
    for (const m of g.members) {
      const list = cuts.get(m.param) ?? [];
      list.push({ axis: m.axis, idx });
      cuts.set(m.param, list);
    }
  }

  const out: ParamArrays = new Map();
  for (const info of infos) {
    let data = arrays.get(info.name)!;
    let shape = info.shape;
    for (const c of cuts.get(info.name) ?? []) ({ data, shape } = gatherAxis(data, shape, c.axis, c.idx));
    out.set(info.name, data === arrays.get(info.name) ? new Float32Array(data) : data);
  }
  return { spec: newSpec, arrays: out };
}

/** A new, physically pruned model; the input model is left untouched (and still owned by the caller). */
export async function pruneModel(model: ReidModel, keep: ReadonlyMap<string, readonly number[]>): Promise<ReidModel> {
  validateKeepSets(model.spec, keep);
  const arrays = await model.toArrays();
  const pruned = pruneArrays(model.spec, arrays, keep);
  return ReidModel.fromArrays(pruned.spec, pruned.arrays);
}
