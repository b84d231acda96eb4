/**
 * The tiny model every fuzz test mutates: ResNet-18 at width 1/16 (stem 4 channels), 64x32
 * input, a 3-class ID head, with varied parameter values (init gives many exact 0s and 1s,
 * which would hide byte-order and offset mistakes).
 */
import { buildSpec, validateSpec, type ResNetSpec } from '../../../src/engine/model/spec';
import { initParamArrays, type ParamArrays } from '../../../src/engine/model/init';
import { listParams } from '../../../src/engine/model/names';
import { Prng } from '../../../src/engine/util/prng';
import { verify } from './harness';

export function tinySpec(): ResNetSpec {
  return buildSpec({ depth: 18, widthMultiplier: 0.0625, inputHeight: 64, inputWidth: 32, numClasses: 3 });
}

export function tinyArrays(spec: ResNetSpec, seed = 7): ParamArrays {
  const a = initParamArrays(spec, seed);
  const rng = new Prng(seed).fork('jitter');
  for (const [name, v] of a) {
    for (let i = 0; i < v.length; i++) v[i] = name.endsWith('running_var') ? rng.uniform(0.5, 1.5) : v[i] + rng.normal(0, 0.05);
  }
  return a;
}

/** A loaded model is usable: its spec validates and every parameter is there, sized and finite. */
export function verifyComplete(spec: ResNetSpec, arrays: ReadonlyMap<string, Float32Array>): void {
  try {
    validateSpec(spec);
  } catch (e) {
    verify(false, `the loaded spec does not validate: ${(e as Error).message}`);
  }
  const infos = listParams(spec);
  verify(arrays.size >= infos.length, `${arrays.size} arrays for ${infos.length} parameters`);
  for (const info of infos) {
    const a = arrays.get(info.name);
    const n = info.shape.reduce((x, y) => x * y, 1);
    verify(a && a.length === n, `${info.name}: ${a?.length} values, shape needs ${n}`);
    for (let i = 0; i < a.length; i++) verify(Number.isFinite(a[i]), `${info.name}[${i}] = ${a[i]} is not finite`);
  }
}

export function sameArrays(a: ReadonlyMap<string, Float32Array>, b: ReadonlyMap<string, Float32Array>): boolean {
  if (a.size !== b.size) return false;
  for (const [k, v] of a) {
    const w = b.get(k);
    if (!w || w.length !== v.length) return false;
    for (let i = 0; i < v.length; i++) if (!Object.is(v[i], w[i])) return false;
  }
  return true;
}

/** Number of values that differ between two maps of equal layout. */
export function countDiffering(a: ReadonlyMap<string, Float32Array>, b: ReadonlyMap<string, Float32Array>): number {
  let d = 0;
  for (const [k, v] of a) {
    const w = b.get(k)!;
    for (let i = 0; i < v.length; i++) if (!Object.is(v[i], w[i])) d++;
  }
  return d;
}
