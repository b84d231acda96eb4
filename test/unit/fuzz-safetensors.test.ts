/**
 * Fuzzing .safetensors import (parseSafetensors + stateDictToModel) with a lab export of a tiny
 * ResNet-18: bytes of the header region, bytes of the tensor data, and structured edits of the
 * JSON header re-encoded with a correct (or, for a fifth, the old) length prefix.
 *
 * Correct outcomes: a LabError with a readable message; or a model whose spec validates, every
 * parameter present, sized and finite, which exports and re-imports to the same arrays; for a
 * bit flip in the data, at most as many values differ from the original as bits were flipped.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { modelToSafetensors, safetensorsToModel } from '../../src/engine/model/safetensors';
import { Prng } from '../../src/engine/util/prng';
import { fuzzCase, newTally, summarize, verify, type Tally } from './fuzz/harness';
import { flipBits, mutateBytes, mutateJson } from './fuzz/mutators';
import { countDiffering, sameArrays, tinyArrays, tinySpec, verifyComplete } from './fuzz/fixtures';

const spec = tinySpec();
const arrays = tinyArrays(spec);
const file = modelToSafetensors(spec, arrays);
const headerLen = Number(new DataView(file.buffer, file.byteOffset).getBigUint64(0, true));
const dataStart = 8 + headerLen;
const header = JSON.parse(new TextDecoder().decode(file.subarray(8, dataStart))) as Record<string, unknown>;
const tallies: Tally[] = [];

afterAll(() => {
  for (const t of tallies) console.info(`[fuzz] ${summarize(t)}`);
});

function importAndVerify(bytes: Uint8Array, flippedBits?: number): string {
  const r = safetensorsToModel(bytes);
  verifyComplete(r.spec, r.arrays);
  if (flippedBits !== undefined && JSON.stringify(r.spec) === JSON.stringify(spec)) {
    const d = countDiffering(arrays, r.arrays);
    verify(d <= flippedBits, `${d} values changed for ${flippedBits} flipped bits`);
    return d === 0 ? 'same weights' : 'flipped values loaded';
  }
  const again = safetensorsToModel(modelToSafetensors(r.spec, r.arrays));
  verify(sameArrays(again.arrays, r.arrays), 'the imported model does not export and re-import to itself');
  if (JSON.stringify(r.spec) === JSON.stringify(spec) && sameArrays(r.arrays, arrays)) return 'same weights';
  return 'values as the edited file holds them';
}

const classify = (e: { code: string; message: string }) => (e.code === 'bad-weights' && /NaN|Infinity/.test(e.message) ? 'bad-weights (non-finite)' : e.code);

/** The file with a new JSON header (text), length prefix correct unless `keepLength`. */
function withHeader(text: string, keepLength: boolean): Uint8Array {
  const h = new TextEncoder().encode(text);
  const out = new Uint8Array(8 + h.length + (file.length - dataStart));
  new DataView(out.buffer).setBigUint64(0, BigInt(keepLength ? headerLen : h.length), true);
  out.set(h, 8);
  out.set(file.subarray(dataStart), 8 + h.length);
  return out;
}

describe('fuzz: safetensors', () => {
  it('byte mutations of the length prefix and header (150 cases)', async () => {
    const t = newTally('safetensors header bytes');
    tallies.push(t);
    const rng = new Prng(31337);
    for (let i = 0; i < 150; i++) {
      const r = rng.fork(i);
      const m = mutateBytes(file, r, undefined, [0, dataStart]);
      await fuzzCase(t, `safetensors header-bytes case ${i}`, m.op, () => importAndVerify(m.value), { classify });
    }
    expect(t.failures).toEqual([]);
  });

  it('bit flips in the tensor data (100 cases)', async () => {
    const t = newTally('safetensors data bit flips');
    tallies.push(t);
    const rng = new Prng(2718);
    for (let i = 0; i < 100; i++) {
      const r = rng.fork(i);
      const { out, bits } = flipBits(file, r, r.int(1, 3), [dataStart, file.length]);
      await fuzzCase(t, `safetensors data case ${i}`, 'bit-flip', () => importAndVerify(out, bits.length), { classify });
    }
    expect(t.failures).toEqual([]);
  });

  it('structured edits of the JSON header (150 cases)', async () => {
    const t = newTally('safetensors JSON header edits');
    tallies.push(t);
    const rng = new Prng(1618);
    for (let i = 0; i < 150; i++) {
      const r = rng.fork(i);
      const m = mutateJson(header, r);
      const keep = r.bool(0.2);
      await fuzzCase(t, `safetensors header-json case ${i}`, m.op + (keep ? ' (old length)' : ''), () => importAndVerify(withHeader(m.value, keep)), { classify });
    }
    expect(t.failures).toEqual([]);
  });
});
