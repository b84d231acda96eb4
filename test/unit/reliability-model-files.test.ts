/**
 * Regression tests for the model-file bugs the fuzzer found: edited manifests whose entries are
 * not objects, whose shapes are not lists, or whose dtype is an object made artifactsToModel
 * throw a TypeError or print "[object Object]"/"undefined"; a spec with a missing or malformed
 * block printed "expects undefined input channels"; a safetensors header entry without a dtype,
 * shape or data_offsets printed "undefined".
 */
import { describe, expect, it } from 'vitest';
import { artifactsToModel, modelToArtifacts, type LabArtifacts } from '../../src/engine/model/weights-io';
import { isLabError, type LabError } from '../../src/engine/errors';
import { modelToSafetensors, parseSafetensors, safetensorsToModel } from '../../src/engine/model/safetensors';
import { tinyArrays, tinySpec } from './fuzz/fixtures';
import { readableMessage } from './fuzz/harness';

const spec = tinySpec();
const base = modelToArtifacts(spec, tinyArrays(spec));

function edited(edit: (a: { weightSpecs: unknown[]; modelTopology: { spec: Record<string, unknown> } }) => void): LabArtifacts {
  const a = structuredClone({ ...base, weightData: undefined }) as unknown as { weightSpecs: unknown[]; modelTopology: { spec: Record<string, unknown> } };
  edit(a);
  return { ...(a as unknown as LabArtifacts), weightData: base.weightData };
}

function loadError(a: LabArtifacts): LabError {
  try {
    artifactsToModel(a);
  } catch (e) {
    if (isLabError(e)) return e;
    throw e;
  }
  throw new Error('expected the load to fail');
}

describe('model files: malformed manifest entries give LabErrors with readable messages', () => {
  it('a null entry is named by its position', () => {
    const e = loadError(edited((a) => (a.weightSpecs[3] = null)));
    expect(e.code).toBe('bad-weights');
    expect(e.message).toContain('weights manifest entry 4: expected an object with a name, shape and dtype, found null');
    expect(readableMessage(e.message)).toBe(true);
  });

  it('an entry without a name is named by its position, not "undefined"', () => {
    const e = loadError(edited((a) => delete (a.weightSpecs[0] as Record<string, unknown>).name));
    expect(e.message).toContain('weights manifest entry 1');
    expect(e.message).not.toMatch(/\bundefined\b/);
  });

  it('a shape that is a number or holds objects is shown as JSON', () => {
    const e1 = loadError(edited((a) => ((a.weightSpecs[1] as Record<string, unknown>).shape = 7)));
    expect(e1.message).toContain('bn1.weight: expected shape [4], found shape 7');
    const e2 = loadError(edited((a) => ((a.weightSpecs[1] as Record<string, unknown>).shape = [{}])));
    expect(e2.message).toContain('found shape [{}]');
    expect(readableMessage(e2.message)).toBe(true);
  });

  it('a dtype or quantization that is an object is shown as JSON', () => {
    const e1 = loadError(edited((a) => ((a.weightSpecs[2] as Record<string, unknown>).dtype = { a: 1 })));
    expect(e1.message).toContain('bn1.bias: expected float32 values (optionally stored as float16), found dtype {"a":1}');
    const e2 = loadError(edited((a) => ((a.weightSpecs[2] as Record<string, unknown>).quantization = 'float16')));
    expect(e2.message).toContain('found quantization "float16"');
  });
});

describe('model files: malformed architectures give readable messages', () => {
  it('a block without inC says which field is missing', () => {
    const e = loadError(edited((a) => delete (a.modelTopology.spec.stages as Record<string, unknown>[][])[2][0].inC));
    expect(e.code).toBe('bad-model-file');
    expect(e.message).toContain('layer3.0 input channels must be a positive integer; found nothing');
  });

  it('a block that is not an object, and object-valued fields, are shown as JSON', () => {
    const e1 = loadError(edited((a) => ((a.modelTopology.spec.stages as unknown[][])[1][1] = null)));
    expect(e1.message).toContain('layer2.1 is malformed: expected a block description (inC, mid, outC, stride, downsample); found null');
    const e2 = loadError(edited((a) => (a.modelTopology.spec.stemC = { c: 4 })));
    expect(e2.message).toContain('Stem channels must be a positive integer; found {"c":4}');
    const e3 = loadError(edited((a) => delete a.modelTopology.spec.lastStride));
    expect(e3.message).toContain('Last stride must be 1 or 2; found nothing');
  });
});

describe('safetensors: a header entry missing a field says so instead of printing "undefined"', () => {
  const st = modelToSafetensors(spec, tinyArrays(spec));
  const n = Number(new DataView(st.buffer, st.byteOffset).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(st.subarray(8, 8 + n))) as Record<string, Record<string, unknown>>;

  function withEditedHeader(edit: (h: Record<string, Record<string, unknown>>) => void): Uint8Array {
    const h = structuredClone(header);
    edit(h);
    const text = new TextEncoder().encode(JSON.stringify(h));
    const out = new Uint8Array(8 + text.length + st.length - 8 - n);
    new DataView(out.buffer).setBigUint64(0, BigInt(text.length), true);
    out.set(text, 8);
    out.set(st.subarray(8 + n), 8 + text.length);
    return out;
  }

  for (const field of ['dtype', 'shape', 'data_offsets']) {
    it(`missing ${field}`, () => {
      let err: unknown;
      try {
        safetensorsToModel(withEditedHeader((h) => delete h['bn1.bias'][field]));
      } catch (e) {
        err = e;
      }
      expect(isLabError(err, 'bad-safetensors')).toBe(true);
      expect((err as LabError).message).toContain(`Tensor bn1.bias has ${field} nothing`);
      expect(readableMessage((err as LabError).message)).toBe(true);
    });
  }
});

describe('safetensors: parsed tensors are copies even when the input is a Node Buffer', () => {
  it('editing the Buffer afterwards does not change the parsed tensor bytes', () => {
    const st = modelToSafetensors(spec, tinyArrays(spec));
    const buf = Buffer.from(st);
    const parsed = parseSafetensors(buf);
    const before = parsed.tensors.get('conv1.weight')!.bytes.slice();
    buf.fill(0);
    expect(parsed.tensors.get('conv1.weight')!.bytes).toEqual(before);
  });
});
