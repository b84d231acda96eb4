/**
 * Fuzzing the lab's model files (model.json + weight shards) through the loaders a user hits:
 * tfjs's own JSON path (what the http(s) and picked-files handlers do: parse model.json, fetch
 * every listed shard), and the Node folder handler (src/node/model-files.ts).
 *
 * Outcomes that count as correct:
 * - a LabError with a readable message, nothing left allocated;
 * - a load whose weights are exactly the shard bytes laid out in the (possibly edited) manifest's
 *   order, with a valid spec and every parameter present, sized and finite. An edit that keeps
 *   the file consistent (e.g. a changed card, two same-shaped entries swapped) loads as what the
 *   file now says; that is the format's meaning, not an error.
 * - for bit flips in the float data: either the flipped values load (they differ from the
 *   original in at most as many values as bits were flipped, and equal the flipped bytes), or
 *   the flip made a NaN/Infinity and the load is refused with 'bad-weights' naming the tensor.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { initBackend } from '../../src/engine/backend/init';
import { artifactsToModelJson, loadModel, loadModelArrays, modelToArtifacts, shardFileNames, splitIntoShards } from '../../src/engine/model/weights-io';
import { encodeFloat16 } from '../../src/engine/model/float16';
import { loadModelFromFolder } from '../../src/node/model-files';
import { Prng } from '../../src/engine/util/prng';
import type { ResNetSpec } from '../../src/engine/model/spec';
import type { ParamArrays } from '../../src/engine/model/init';
import { fuzzCase, newTally, summarize, verify, type Tally } from './fuzz/harness';
import { flipBits, mutateBytes, mutateJson, type JsonOp } from './fuzz/mutators';
import { countDiffering, sameArrays, tinyArrays, tinySpec, verifyComplete } from './fuzz/fixtures';

const spec = tinySpec();
const arrays = tinyArrays(spec);
const artifacts = modelToArtifacts(spec, arrays, { card: { name: 'fuzz', mAP: 0.5 } });
const weightBytes = new Uint8Array(artifacts.weightData as ArrayBuffer);
const modelJson = artifactsToModelJson(artifacts, ['group1-shard1of1.bin']);
const tallies: Tally[] = [];

/** What tfjs's http / browserFiles handlers do with a model.json and its shards. */
function memoryHandler(jsonText: string, shards: ReadonlyMap<string, Uint8Array>): tf.io.IOHandler {
  return {
    load: async () => {
      const json = JSON.parse(jsonText) as tf.io.ModelJSON;
      return tf.io.getModelArtifactsForJSON(json, async (manifest) => {
        const specs: tf.io.WeightsManifestEntry[] = [];
        const buffers: ArrayBuffer[] = [];
        for (const group of manifest) {
          for (const p of group.paths) {
            const b = shards.get(p);
            if (!b) throw new Error(`Request for ${p} failed with status code 404.`);
            buffers.push(b.slice().buffer);
          }
          specs.push(...group.weights);
        }
        return [specs, buffers];
      });
    },
  };
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/**
 * The format's meaning, computed independently of the loader: the loaded values, laid out in the
 * manifest's order (float32, or float16 where the entry says so), are exactly the shard bytes.
 */
function verifyLayout(jsonText: string, loaded: ReadonlyMap<string, Float32Array>, shardBytes: Uint8Array): void {
  const json = JSON.parse(jsonText) as tf.io.ModelJSON;
  const parts: Uint8Array[] = [];
  for (const g of json.weightsManifest) {
    for (const w of g.weights) {
      const v = loaded.get(w.name);
      verify(v, `manifest entry ${w.name} has no loaded array`);
      if (w.quantization?.dtype === 'float16') {
        const h = encodeFloat16(v);
        parts.push(new Uint8Array(h.buffer, h.byteOffset, h.byteLength));
      } else parts.push(new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
    }
  }
  const laid = concat(parts);
  verify(laid.length === shardBytes.length, `loaded values fill ${laid.length} bytes; the shards hold ${shardBytes.length}`);
  let first = -1;
  for (let i = 0; i < laid.length && first < 0; i++) if (laid[i] !== shardBytes[i]) first = i;
  verify(first < 0, `loaded values differ from the shard bytes at byte ${first}`);
}

/**
 * Load (as a model with tensors, or as plain arrays, which is the same validation without the
 * tensors and much faster) and check the result against the file.
 */
async function loadVerified(handler: tf.io.IOHandler, withTensors: boolean): Promise<{ spec: ResNetSpec; loaded: ParamArrays }> {
  if (!withTensors) {
    const r = await loadModelArrays(handler);
    return { spec: r.spec, loaded: r.arrays };
  }
  const { model } = await loadModel(handler);
  try {
    return { spec: model.spec, loaded: await model.toArrays() };
  } finally {
    model.dispose();
  }
}

async function loadAndVerify(handler: tf.io.IOHandler, jsonText: string, shardBytes: Uint8Array, withTensors = true): Promise<string> {
  const { spec: loadedSpec, loaded } = await loadVerified(handler, withTensors);
  verifyComplete(loadedSpec, loaded);
  verifyLayout(jsonText, loaded, shardBytes);
  if (sameArrays(loaded, arrays) && JSON.stringify(loadedSpec) === JSON.stringify(spec)) return 'same weights';
  return 'values as the edited file holds them';
}

beforeAll(async () => {
  await initBackend('wasm');
});

afterAll(() => {
  for (const t of tallies) console.info(`[fuzz] ${summarize(t)}`);
});

describe('fuzz: model.json', () => {
  it('mutated model.json (tfjs JSON path, 360 cases): LabError or a load that matches the file', async () => {
    const t = newTally('model.json (tfjs JSON path)');
    tallies.push(t);
    const rng = new Prng(20250101);
    const shards = new Map([['group1-shard1of1.bin', weightBytes]]);
    for (let i = 0; i < 360; i++) {
      const r = rng.fork(i);
      // Half the cases aim at the weights manifest, where most of the loader's checks live.
      const focus = r.bool(0.5) ? ['weightsManifest'] : r.bool(0.5) ? ['modelTopology'] : undefined;
      const m = mutateJson(modelJson, r, undefined, focus);
      await fuzzCase(t, `model.json case ${i}`, m.op, () => loadAndVerify(memoryHandler(m.value, shards), m.value, weightBytes), {
        classify: (e) => (e.code === 'bad-model-file' && /could not be read/.test(e.message) ? 'bad-model-file (unparsable)' : e.code),
      });
    }
    expect(t.failures).toEqual([]);
    expect(Object.values(t.errors).reduce((a, b) => a + b, 0)).toBeGreaterThan(100);
  });

  it('mutated model.json through the Node folder handler (60 cases)', async () => {
    const t = newTally('model.json (Node folder handler)');
    tallies.push(t);
    const dir = await mkdtemp(path.join(tmpdir(), 'fuzz-model-'));
    try {
      await writeFile(path.join(dir, 'group1-shard1of1.bin'), weightBytes);
      const rng = new Prng(777);
      const ops: JsonOp[] = ['delete-key', 'wrong-type', 'shape-edit', 'array-edit', 'string-edit', 'truncate-text'];
      for (let i = 0; i < 60; i++) {
        const r = rng.fork(i);
        const m = mutateJson(modelJson, r, ops[i % ops.length], r.bool(0.7) ? ['weightsManifest'] : undefined);
        await writeFile(path.join(dir, 'model.json'), m.value);
        await fuzzCase(t, `folder case ${i}`, m.op, async () => {
          const { model } = await loadModelFromFolder(dir);
          try {
            const loaded = await model.toArrays();
            verifyComplete(model.spec, loaded);
            verifyLayout(m.value, loaded, weightBytes);
            return sameArrays(loaded, arrays) ? 'same weights' : 'values as the edited file holds them';
          } finally {
            model.dispose();
          }
        });
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    expect(t.failures).toEqual([]);
  });
});

describe('fuzz: weight shards', () => {
  const jsonText = JSON.stringify(modelJson);

  it('bit flips in the float data (240 cases): the flipped values load, or a non-finite value is refused', async () => {
    // Floats with exponent 127 (values in [1, 2)): flipping bit 30 gives exponent 255.
    const f32 = new Float32Array(weightBytes.buffer, weightBytes.byteOffset, weightBytes.byteLength / 4);
    const unitExponent = [...f32.keys()].filter((k) => Math.abs(f32[k]) >= 1 && Math.abs(f32[k]) < 2);
    const t = newTally('weight shard bit flips');
    tallies.push(t);
    const rng = new Prng(4242);
    for (let i = 0; i < 240; i++) {
      const r = rng.fork(i);
      // Random bits rarely make a NaN/Infinity; a third of the cases flip the exponent's top bit
      // (bit 30) of a float, which turns every value in [1, 2) into Infinity or NaN.
      let flipped: { out: Uint8Array; bits: number[] };
      if (i % 3 === 0) {
        const f = r.pick(unitExponent);
        const out = weightBytes.slice();
        out[f * 4 + 3] ^= 0x40;
        flipped = { out, bits: [(f * 4 + 3) * 8 + 6] };
      } else flipped = flipBits(weightBytes, r, r.int(1, 3));
      const { out, bits } = flipped;
      await fuzzCase(
        t,
        `bit-flip case ${i} (bits ${bits.join(', ')})`,
        'bit-flip',
        async () => {
          const shards = new Map([['group1-shard1of1.bin', out]]);
          const { spec: loadedSpec, loaded } = await loadVerified(memoryHandler(jsonText, shards), i % 4 === 0);
          verifyComplete(loadedSpec, loaded);
          verifyLayout(jsonText, loaded, out);
          const differing = countDiffering(arrays, loaded);
          verify(differing <= bits.length, `${differing} values changed for ${bits.length} flipped bits`);
          return differing === 0 ? 'same weights' : 'flipped values loaded';
        },
        { classify: (e) => (e.code === 'bad-weights' && /non-finite/.test(e.message) ? 'bad-weights (non-finite)' : e.code) },
      );
    }
    expect(t.failures).toEqual([]);
    expect(t.errors['bad-weights (non-finite)'] ?? 0).toBeGreaterThan(0);
    expect(t.loaded['flipped values loaded'] ?? 0).toBeGreaterThan(0);
  });

  it('truncated, extended, spliced and split shards (240 cases)', async () => {
    const t = newTally('weight shard structure');
    tallies.push(t);
    const rng = new Prng(99);
    for (let i = 0; i < 240; i++) {
      const r = rng.fork(i);
      const ops = ['truncate', 'extend', 'delete-range', 'duplicate-range', 'zero-range', 'interesting-u32', 'random-bytes', 'byte-set'] as const;
      const m = mutateBytes(weightBytes, r, ops[i % ops.length]);
      // A third of the cases split the data over 3 shards (non-standard cut: only the total is known).
      const split = r.bool(0.33);
      const parts = split ? splitIntoShards(m.value.slice().buffer, Math.max(1, Math.ceil(weightBytes.length / 3))).map((b) => new Uint8Array(b)) : [m.value];
      const names = shardFileNames(parts.length);
      const json = JSON.stringify(artifactsToModelJson(artifacts, names));
      const shards = new Map(names.map((n, k) => [n, parts[k]]));
      if (split && r.bool(0.3)) shards.delete(r.pick(names)); // a shard that never arrived
      await fuzzCase(t, `shard case ${i}`, m.op + (split ? ' (3 shards)' : ''), () => loadAndVerify(memoryHandler(json, shards), json, m.value, i % 4 === 0), {
        classify: (e) => (e.code === 'bad-weights' && /non-finite/.test(e.message) ? 'bad-weights (non-finite)' : e.code),
      });
    }
    expect(t.failures).toEqual([]);
  });
});
