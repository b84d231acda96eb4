/**
 * Issue 20 (reliability, round 2), engine side: each failure the hostile-input session found,
 * reproduced and now refused with a sentence. Items: 2 (ONNX cycle), 8 (ONNX initializer dims),
 * 9 (implausible input size), 10 (zip size bombs), 13 (raw messages), 14 (safetensors metadata
 * and the unstated last stride), 17 (plan JSON scope, kind and seed).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { deflateSync, zipSync } from 'fflate';
import { exportOnnx } from '../../src/engine/onnx/export';
import { importOnnx } from '../../src/engine/onnx/import';
import { decodeModel, encodeModel } from '../../src/engine/onnx/schema';
import { modelToSafetensors, safetensorsToModel } from '../../src/engine/model/safetensors';
import { modelToStateDict, SPEC_METADATA_KEY } from '../../src/engine/model/state-dict';
import { writeSafetensors, type RawTensor } from '../../src/engine/model/safetensors';
import { artifactsToModel, loadModelArrays, modelToArtifacts } from '../../src/engine/model/weights-io';
import * as tf from '@tensorflow/tfjs';
import { cloneSpec } from '../../src/engine/model/spec';
import { zipSource } from '../../src/engine/data/market/zip';
import { bytesRangeReader } from '../../src/engine/data/market/source';
import { parsePlan, planToJsonObject } from '../../src/engine/prune/plan-json';
import { planPrune } from '../../src/engine/prune/plan';
import { getCriterion } from '../../src/engine/prune/criteria/index';
import { initBackend } from '../../src/engine/backend/init';
import { ReidModel } from '../../src/engine/model/model';
import { isLabError, type LabError } from '../../src/engine/errors';
import { readableMessage } from './fuzz/harness';
import { tinyArrays, tinySpec } from './fuzz/fixtures';

const spec = tinySpec();
const arrays = tinyArrays(spec);

function refused(run: () => unknown): LabError {
  try {
    run();
  } catch (e) {
    if (isLabError(e)) {
      expect(readableMessage(e.message), e.message).toBe(true);
      return e;
    }
    throw e;
  }
  throw new Error('expected a LabError');
}

async function refusedAsync(run: () => Promise<unknown>): Promise<LabError> {
  try {
    await run();
  } catch (e) {
    if (isLabError(e)) return e;
    throw e;
  }
  throw new Error('expected a LabError');
}

describe('item 2: an ONNX graph with a cycle is refused (the importer looped forever)', () => {
  it("a block's output fed back into its input", () => {
    const m = decodeModel(exportOnnx(spec, arrays));
    const nodes = m.graph!.node!;
    // The first conv of layer1.0 reads the stem's pooled output; make it read the block's Relu output.
    const conv = nodes.find((n) => n.opType === 'Conv' && nodes.some((p) => p.opType === 'MaxPool' && p.output![0] === n.input![0]))!;
    const blockOut = nodes.filter((n) => n.opType === 'Relu')[2].output![0];
    conv.input![0] = blockOut;
    const e = refused(() => importOnnx(encodeModel(m)));
    expect(e.code).toBe('bad-onnx');
    expect(e.message).toMatch(/^The ONNX graph has a cycle: \d+ node\(s\), e\.g\. .* depend on their own outputs/);
  });

  it('an Identity that reads its own output', () => {
    const m = decodeModel(exportOnnx(spec, arrays));
    m.graph!.node!.push({ opType: 'Identity', name: 'loop', input: ['loop_out'], output: ['loop_out'] });
    expect(refused(() => importOnnx(encodeModel(m))).message).toMatch(/has a cycle: .*"loop" \(Identity\)/);
  });
});

describe('item 8: ONNX initializer dims are checked before they size an allocation', () => {
  const cases: [string, number[], RegExp][] = [
    ['[1e6, 1e6]', [1e6, 1e6], /1000000000000 values; the lab reads tensors of at most 67108864 values/],
    ['[-1]', [-1], /every dim must be a whole number of at least 0 \(found -1\)/],
    ['[2^53, 2]', [2 ** 53, 2], /every dim must be a whole number of at least 0/],
    ['a dim that disagrees with the data', [3, 3], /holds \d+ bytes of data; its dims need 36 bytes/],
  ];
  for (const [what, dims, msg] of cases) {
    it(`dims ${what}: bad-onnx, no RangeError`, () => {
      const m = decodeModel(exportOnnx(spec, arrays));
      const t = m.graph!.initializer!.find((x) => (x.dims ?? []).length === 4)!;
      t.dims = dims;
      const e = refused(() => importOnnx(encodeModel(m)));
      expect(e.code).toBe('bad-onnx');
      expect(e.message).toMatch(msg);
    });
  }
});

describe('item 9: a model declaring an implausible input size is refused on load', () => {
  it('model.json with input 100000 x 100000', () => {
    const a = modelToArtifacts(spec, arrays);
    const topo = structuredClone(a.modelTopology) as { spec: { input: { height: number; width: number } } };
    topo.spec.input = { height: 100000, width: 100000 };
    const e = refused(() => artifactsToModel({ ...a, modelTopology: topo }));
    expect(e.code).toBe('bad-model-file');
    expect(e.message).toContain('The input size 100000 x 100000 is implausible for a ReID model');
  });

  it('safetensors whose lab metadata says 100000 x 100000', () => {
    const big = cloneSpec(spec);
    big.input = { height: 100000, width: 100000 };
    const e = refused(() => safetensorsToModel(modelToSafetensors(big, arrays)));
    expect(e.message).toContain('100000 x 100000 is implausible');
  });
});

/** A safetensors file of the tiny model with the given metadata (PyTorch layout, lab names). */
function safetensorsWith(metadata: Record<string, string>): Uint8Array {
  const tensors: RawTensor[] = [...modelToStateDict(spec, arrays, 'lab')].map(([name, t]) => ({ name, dtype: 'F32', shape: t.shape, bytes: new Uint8Array(t.values.buffer, t.values.byteOffset, t.values.byteLength) }));
  return writeSafetensors(tensors, metadata);
}

describe('item 14: safetensors metadata is read or refused, never silently replaced by 128 x 64', () => {
  it('unparsable lab spec metadata is an error (it silently became 128 x 64)', () => {
    const e = refused(() => safetensorsToModel(safetensorsWith({ [SPEC_METADATA_KEY]: '{"input": {"height": 64, "wid' })));
    expect(e.code).toBe('bad-model-file');
    expect(e.message).toContain(`metadata "${SPEC_METADATA_KEY}"`);
  });

  it('a negative size in the lab spec or the generic keys is an error', () => {
    const lab = JSON.stringify({ ...spec, input: { height: -64, width: 32 } });
    expect(refused(() => safetensorsToModel(safetensorsWith({ [SPEC_METADATA_KEY]: lab }))).message).toContain(`"${SPEC_METADATA_KEY}.input" is {"height":-64,"width":32}`);
    expect(refused(() => safetensorsToModel(safetensorsWith({ input_height: '-64', input_width: '32' }))).message).toContain('"input_height" is "-64"');
    expect(refused(() => safetensorsToModel(safetensorsWith({ last_stride: '3' }))).message).toContain('"last_stride" is "3"; expected 1 or 2');
  });

  it('an explicit option overrides a bad metadata value', () => {
    const r = safetensorsToModel(safetensorsWith({ last_stride: 'x' }), { lastStride: 2 });
    expect(r.spec.lastStride).toBe(2);
  });

  it('what the file does not state is returned as assumed, with a notice; what it states is not', () => {
    const bare = safetensorsToModel(safetensorsWith({}));
    expect(bare.assumed).toEqual({ input: { height: 128, width: 64 }, lastStride: 1 });
    expect(bare.notes.join(' ')).toMatch(/does not state the last stride .* assumed 1/);
    const stated = safetensorsToModel(safetensorsWith({ input_size: '64x32', last_stride: '2' }));
    expect(stated.assumed).toEqual({});
    expect(stated.spec.input).toEqual({ height: 64, width: 32 });
    expect(stated.spec.lastStride).toBe(2);
    expect(safetensorsToModel(modelToSafetensors(spec, arrays)).assumed).toEqual({});
    expect(importOnnx(exportOnnx(spec, arrays)).assumed).toEqual({});
  });
});

describe('item 10: zip entries are size-checked before and while they are inflated', () => {
  const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47]);

  it('an entry declaring more than 64 MiB is not unpacked (skipped as too large)', async () => {
    const zeros = new Uint8Array(65 << 20);
    const zip = zipSync({ 'query/0001_c1s1_000001_00.jpg': zeros, 'query/0001_c2s1_000001_00.png': png }, { level: 1 });
    const src = await zipSource(bytesRangeReader(zip), 'bomb.zip');
    const e = await refusedAsync(() => src.read('query/0001_c1s1_000001_00.jpg'));
    expect(e.code).toBe('bad-dataset');
    expect(e.detail).toMatchObject({ damaged: true, tooLarge: true });
    expect(e.message).toContain('declares 68157440 bytes uncompressed');
    expect(await src.read('query/0001_c2s1_000001_00.png')).toEqual(png);
  });

  it('an entry whose directory understates its size stops inflating at the declared size', async () => {
    const zeros = new Uint8Array(32 << 20);
    const zip = zipSync({ 'a.jpg': zeros }, { level: 1 });
    // Patch the central directory's uncompressed size (offset 24 of the entry) down to 1000.
    const cd = zip.length - 22 - (46 + 'a.jpg'.length);
    new DataView(zip.buffer).setUint32(cd + 24, 1000, true);
    const src = await zipSource(bytesRangeReader(zip), 'liar.zip');
    const before = process.memoryUsage().arrayBuffers;
    const e = await refusedAsync(() => src.read('a.jpg'));
    expect(e.detail).toMatchObject({ damaged: true });
    expect(e.message).toMatch(/inflates to more than the 1000 bytes|compressed size/);
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(24 << 20);
    expect(deflateSync(new Uint8Array(8)).length).toBeGreaterThan(0);
  });
});

describe('item 13: malformed model.json messages are sentences', () => {
  it('a manifest group whose paths is not a list, read the way tfjs\'s http handler reads it: a sentence, not "a.paths is not iterable"', async () => {
    const json = { ...modelToArtifacts(spec, arrays), weightsManifest: [{ paths: 5, weights: [] }] };
    const handler = {
      load: () =>
        tf.io.getModelArtifactsForJSON(json as unknown as tf.io.ModelJSON, async (manifest) => {
          const paths: string[] = [];
          for (const group of manifest) for (const p of group.paths) paths.push(p); // tfjs http.ts does this
          return [[], paths.map(() => new ArrayBuffer(0))];
        }),
    };
    const e = await refusedAsync(() => loadModelArrays(handler));
    expect(e.code).toBe('bad-model-file');
    expect(e.message).toMatch(/^The model.json is malformed: its weightsManifest must be a list of groups, each with a "paths" list/);
  });


  it('a model.json without a format says so, not format is "undefined"', () => {
    const a = modelToArtifacts(spec, arrays);
    const e = refused(() => artifactsToModel({ ...a, format: undefined }));
    expect(e.message).toContain('This model.json has no "format" field');
    expect(e.message).not.toContain('"undefined"');
  });
});

describe('item 17: a plan JSON is checked against its own scope and format', () => {
  type Json = Record<string, unknown> & { groups: Record<string, unknown>[]; settings: Record<string, unknown> };
  let text = '';
  beforeAll(async () => {
    await initBackend('wasm');
    const model = ReidModel.fromArrays(spec, arrays);
    text = JSON.stringify(planToJsonObject(await planPrune(model, getCriterion('l1'), { criterion: 'l1', rate: 0.5, scope: 'inner' })));
    model.dispose();
  });
  const planJson = () => JSON.parse(text) as Json;

  it('the untouched plan parses', () => {
    expect(parsePlan(planJson()).groups.length).toBeGreaterThan(0);
  });

  it('a trunk group inside an inner-scope plan is refused', () => {
    const j = planJson();
    j.groups.push({ id: 'trunk1', kind: 'trunk', channels: spec.stages[0][0].outC, keep: [0] });
    const e = refused(() => parsePlan(j));
    expect(e.message).toMatch(/scope is "inner", but it lists the trunk group/);
  });

  it('a group with the wrong kind is refused', () => {
    const j = planJson();
    j.groups[0].kind = 'trunk';
    expect(refused(() => parsePlan(j)).message).toMatch(/is of kind "trunk"; in its architecture it is an inner group/);
  });

  it('seed -1 is refused', () => {
    const j = planJson();
    j.settings.seed = -1;
    expect(refused(() => parsePlan(j)).message).toContain('The seed must be a whole number of at least 0; found -1');
  });
});
