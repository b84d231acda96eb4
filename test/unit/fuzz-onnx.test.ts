/**
 * Fuzzing ONNX import with a lab export of a tiny ResNet-18: raw byte mutations of the .onnx
 * file (protobuf damage, truncation, bit flips in weights) and structural edits of the decoded
 * graph re-encoded as valid protobuf (deleted or duplicated nodes, changed op types, rewired
 * inputs, edited attributes, initializer dims, data types and raw data).
 *
 * Correct outcomes: a LabError with a readable message; or an import whose spec validates with
 * every parameter present, sized and finite. An import equal to the unmutated one counts as
 * "same weights"; a bit flip that loads must change at most as many values as bits flipped.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { exportOnnx } from '../../src/engine/onnx/export';
import { importOnnx } from '../../src/engine/onnx/import';
import { decodeModel, encodeModel, type AttributeMsg, type ModelMsg } from '../../src/engine/onnx/schema';
import { Prng } from '../../src/engine/util/prng';
import { fuzzCase, newTally, summarize, verify, type Tally } from './fuzz/harness';
import { flipBits, mutateBytes } from './fuzz/mutators';
import { countDiffering, sameArrays, tinyArrays, tinySpec, verifyComplete } from './fuzz/fixtures';

const spec = tinySpec();
const arrays = tinyArrays(spec);
const onnx = exportOnnx(spec, arrays, { withLogits: true });
const reference = importOnnx(onnx);
const tallies: Tally[] = [];

afterAll(() => {
  for (const t of tallies) console.info(`[fuzz] ${summarize(t)}`);
});

function importAndVerify(bytes: Uint8Array, flippedBits?: number): string {
  const r = importOnnx(bytes);
  verifyComplete(r.spec, r.arrays);
  const sameSpec = JSON.stringify(r.spec) === JSON.stringify(reference.spec);
  if (sameSpec && sameArrays(r.arrays, reference.arrays)) return 'same weights';
  if (flippedBits !== undefined && sameSpec) {
    const d = countDiffering(reference.arrays, r.arrays);
    verify(d <= flippedBits, `${d} values changed for ${flippedBits} flipped bits`);
    return 'flipped values loaded';
  }
  return 'values as the edited file holds them';
}

const OPS = ['Conv', 'Relu', 'Add', 'BatchNormalization', 'MaxPool', 'GlobalAveragePool', 'Flatten', 'Gemm', 'Identity', 'Mul', 'Reshape', 'Sigmoid', ''];

/** One structural edit of a decoded model; returns its name. */
function editGraph(m: ModelMsg, r: Prng): string {
  const g = m.graph!;
  const nodes = g.node!;
  const inits = g.initializer ?? [];
  const node = r.pick(nodes);
  const values = [...new Set(nodes.flatMap((n) => [...(n.input ?? []), ...(n.output ?? [])]))];
  switch (r.int(0, 11)) {
    case 0:
      nodes.splice(nodes.indexOf(node), 1);
      return 'delete node';
    case 1:
      nodes.splice(nodes.indexOf(node), 0, structuredClone(node));
      return 'duplicate node';
    case 2:
      node.opType = r.pick(OPS);
      return 'change op type';
    case 3: {
      const ins = node.input ?? [];
      if (ins.length) ins[r.int(0, ins.length - 1)] = r.bool(0.5) ? r.pick(values) : 'no-such-value';
      return 'rewire input';
    }
    case 4: {
      const outs = node.output ?? [];
      if (outs.length) outs[0] = r.bool(0.5) ? r.pick(values) : `${outs[0]}_renamed`;
      return 'rewire output';
    }
    case 5: {
      const attrs = node.attribute ?? [];
      if (attrs.length) attrs.splice(r.int(0, attrs.length - 1), 1);
      return 'delete attribute';
    }
    case 6: {
      const attrs: AttributeMsg[] = node.attribute ?? [];
      const a = attrs.length ? r.pick(attrs) : undefined;
      if (a?.ints) a.ints = a.ints.map(() => r.pick([0, 1, 2, 3, -1, 7, 2 ** 31]));
      else if (a && a.i !== undefined) a.i = r.pick([0, 1, 2, -1, 1000]);
      else if (a && a.f !== undefined) a.f = r.pick([0, -1, 1e-3, NaN, Infinity]);
      return 'edit attribute';
    }
    case 7: {
      const t = r.pick(inits);
      const dims = t.dims ?? [];
      const e = r.int(0, 3);
      if (e === 0 && dims.length) dims[r.int(0, dims.length - 1)] = r.pick([0, 1, 2, 3, 7, -1, 2 ** 31, 1e9]);
      else if (e === 1) dims.push(r.pick([1, 2]));
      else if (e === 2) dims.pop();
      else dims.reverse();
      t.dims = dims;
      return 'edit initializer dims';
    }
    case 8:
      r.pick(inits).dataType = r.pick([0, 2, 6, 7, 10, 11, 16, 99]);
      return 'change data type';
    case 9: {
      const t = r.pick(inits);
      if (t.rawData) t.rawData = t.rawData.slice(0, r.int(0, t.rawData.length));
      return 'truncate raw data';
    }
    case 10:
      inits.splice(r.int(0, inits.length - 1), 1);
      return 'delete initializer';
    default: {
      const input = g.input?.[0];
      const dims = input?.type?.tensorType?.shape?.dim;
      if (dims && dims.length) dims[r.int(0, dims.length - 1)] = r.bool(0.5) ? { dimValue: r.pick([0, 1, 2, 4, 1e6]) } : { dimParam: 'X' };
      return 'edit input dims';
    }
  }
}

describe('fuzz: ONNX import', () => {
  it('byte mutations of a lab-exported .onnx (200 cases)', async () => {
    const t = newTally('ONNX bytes');
    tallies.push(t);
    const rng = new Prng(8086);
    for (let i = 0; i < 200; i++) {
      const r = rng.fork(i);
      if (i % 4 === 0) {
        const { out, bits } = flipBits(onnx, r, r.int(1, 3));
        await fuzzCase(t, `onnx bytes case ${i}`, 'bit-flip', () => importAndVerify(out, bits.length));
      } else {
        const m = mutateBytes(onnx, r);
        await fuzzCase(t, `onnx bytes case ${i}`, m.op, () => importAndVerify(m.value));
      }
    }
    expect(t.failures).toEqual([]);
  });

  it('structural edits of the decoded graph (200 cases)', async () => {
    const t = newTally('ONNX graph edits');
    tallies.push(t);
    const rng = new Prng(6502);
    const decoded = decodeModel(onnx);
    for (let i = 0; i < 200; i++) {
      const r = rng.fork(i);
      const m = structuredClone(decoded) as ModelMsg;
      const op = editGraph(m, r);
      let bytes: Uint8Array;
      try {
        bytes = encodeModel(m);
      } catch {
        continue; // not encodable as protobuf (e.g. a dim beyond int64): not a file anyone can have
      }
      await fuzzCase(t, `onnx graph case ${i}`, op, () => importAndVerify(bytes));
    }
    expect(t.failures).toEqual([]);
  });
});


