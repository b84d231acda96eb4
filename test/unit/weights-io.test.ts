import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { mkdtemp, readFile, readdir, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { createServer, type Server } from 'node:http';
import { buildSpec, type ResNetSpec } from '../../src/engine/model/spec';
import { listParams } from '../../src/engine/model/names';
import { initParamArrays, type ParamArrays } from '../../src/engine/model/init';
import { ReidModel } from '../../src/engine/model/model';
import { float16BitsToFloat32, float32ToFloat16Bits } from '../../src/engine/model/float16';
import {
  MODEL_FORMAT,
  SHARD_BYTES,
  artifactsToModel,
  loadModel,
  modelToArtifacts,
  saveModel,
} from '../../src/engine/model/weights-io';
import { loadModelFromFolder, modelFolder, saveModelToFolder } from '../../src/node/model-files';
import { isLabError, LabError } from '../../src/engine/errors';

const tiny = (): ResNetSpec => buildSpec({ depth: 18, widthMultiplier: 0.125, inputHeight: 64, inputWidth: 32, numClasses: 5 });

/** Random-ish arrays with varied magnitudes (init gives many exact 0/1 values). */
function arraysFor(spec: ResNetSpec, seed: number): ParamArrays {
  const a = initParamArrays(spec, seed);
  let k = 1;
  for (const [name, v] of a) {
    for (let i = 0; i < v.length; i++) v[i] = name.endsWith('running_var') ? 0.5 + ((i * 7 + k) % 13) / 10 : v[i] + Math.sin(i * 0.37 + k) * 0.1;
    k++;
  }
  return a;
}

function expectLabError(fn: () => unknown, code: string, ...fragments: string[]): LabError {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(isLabError(err), `expected a LabError, got ${String(err)}`).toBe(true);
  const le = err as LabError;
  expect(le.code).toBe(code);
  for (const f of fragments) expect(le.message).toContain(f);
  return le;
}

let dir: string;
beforeAll(async () => {
  await tf.setBackend('wasm');
  await tf.ready();
  dir = await mkdtemp(path.join(tmpdir(), 'weights-io-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('float16 encoding', () => {
  it('matches hand-worked IEEE half bit patterns, rounding to nearest even', () => {
    const cases: [number, number][] = [
      [1, 0x3c00],
      [-2, 0xc000],
      [0.5, 0x3800],
      [65504, 0x7bff],
      [2 ** -14, 0x0400], // smallest normal
      [2 ** -24, 0x0001], // smallest subnormal
      [2 ** -25, 0x0000], // halfway between 0 and 2^-24: ties to even (0)
      [3 * 2 ** -26, 0x0001], // 0.75 of the smallest subnormal rounds up
      [1 + 2 ** -11, 0x3c00], // tie between 1 and 1+2^-10: even mantissa wins
      [1 + 3 * 2 ** -11, 0x3c02], // tie between 1+2^-10 and 1+2^-9: even (…02)
      [65520, 0x7c00], // halfway to 2^16 rounds to even, which overflows to Infinity
      [-0, 0x8000],
      [Infinity, 0x7c00],
    ];
    for (const [v, bits] of cases) expect(float32ToFloat16Bits(v), `${v}`).toBe(bits);
    expect(float16BitsToFloat32(0x3555)).toBeCloseTo(1 / 3, 3);
    expect(Number.isNaN(float16BitsToFloat32(float32ToFloat16Bits(NaN)))).toBe(true);
  });

  it('round-trips every finite half value exactly', () => {
    const wrong: number[] = [];
    for (let h = 0; h < 0x10000; h++) {
      if (((h >> 10) & 0x1f) === 0x1f) continue; // Inf/NaN
      if (float32ToFloat16Bits(float16BitsToFloat32(h)) !== h) wrong.push(h);
    }
    expect(wrong).toEqual([]);
  });
});

describe('modelToArtifacts / artifactsToModel', () => {
  it('round-trips float32 weights bit for bit, names in PyTorch style, conv weights in [kh,kw,in,out]', () => {
    const spec = tiny();
    const arrays = arraysFor(spec, 1);
    const art = modelToArtifacts(spec, arrays, { card: { note: 'hello' } });
    expect(art.format).toBe(MODEL_FORMAT);
    const conv1 = art.weightSpecs!.find((w) => w.name === 'conv1.weight')!;
    expect(conv1.shape).toEqual([7, 7, 3, spec.stemC]);
    expect(art.weightSpecs!.find((w) => w.name === 'classifier.weight')!.shape).toEqual([spec.stages[3][1].outC, 5]);
    const total = listParams(spec).reduce((n, p) => n + p.shape.reduce((a, b) => a * b, 1), 0);
    expect((art.weightData as ArrayBuffer).byteLength).toBe(total * 4);
    const back = artifactsToModel(art);
    expect(back.spec).toEqual(spec);
    expect(back.card).toEqual({ note: 'hello' });
    expect([...back.arrays.keys()]).toEqual(listParams(spec).map((p) => p.name));
    for (const [name, v] of arrays) expect(Buffer.from(back.arrays.get(name)!.buffer).equals(Buffer.from(v.buffer)), name).toBe(true);
  });

  it('stores float16 that tf.io.decodeWeights decodes to the same values, within half precision', async () => {
    const spec = tiny();
    const arrays = arraysFor(spec, 2);
    const art = modelToArtifacts(spec, arrays, { dtype: 'float16' });
    const total = listParams(spec).reduce((n, p) => n + p.shape.reduce((a, b) => a * b, 1), 0);
    expect((art.weightData as ArrayBuffer).byteLength).toBe(total * 2);
    expect(art.weightSpecs!.every((w) => w.quantization?.dtype === 'float16')).toBe(true);
    const ours = artifactsToModel(art).arrays;
    const before = tf.memory().numTensors;
    const theirs = tf.io.decodeWeights(art.weightData!, art.weightSpecs!);
    for (const [name, v] of arrays) {
      const t = theirs[name];
      expect(t.shape).toEqual(listParams(spec).find((p) => p.name === name)!.shape);
      const tv = await t.data();
      const o = ours.get(name)!;
      let differ = 0;
      let tooFar = 0;
      for (let i = 0; i < v.length; i++) {
        if (tv[i] !== o[i]) differ++;
        // Half precision: relative error <= 2^-11 for normal values, absolute 2^-25 near zero.
        if (Math.abs(o[i] - v[i]) > Math.max(Math.abs(v[i]) * 2 ** -11, 2 ** -25)) tooFar++;
      }
      expect([name, differ, tooFar]).toEqual([name, 0, 0]);
    }
    Object.values(theirs).forEach((t) => t.dispose());
    expect(tf.memory().numTensors).toBe(before);
  });

  it('refuses float16 storage for values beyond the half range', () => {
    const spec = tiny();
    const arrays = arraysFor(spec, 3);
    arrays.get('layer1.0.bn1.running_var')![2] = 1e6;
    expectLabError(() => modelToArtifacts(spec, arrays, { dtype: 'float16' }), 'bad-argument', 'layer1.0.bn1.running_var', 'float16');
  });

  it('names the tensor, expected vs found, for missing, unknown and mis-shaped weights', () => {
    const spec = tiny();
    const base = () => modelToArtifacts(spec, arraysFor(spec, 4));
    const before = tf.memory().numTensors;

    const missing = base();
    missing.weightSpecs = missing.weightSpecs!.filter((w) => w.name !== 'layer2.1.bn2.bias');
    expectLabError(() => artifactsToModel(missing), 'bad-weights', 'layer2.1.bn2.bias', 'missing', `[${spec.stages[1][1].outC}]`);

    const unknown = base();
    unknown.weightSpecs!.push({ name: 'fc.weight', shape: [4, 4], dtype: 'float32' });
    expectLabError(() => artifactsToModel(unknown), 'bad-weights', 'fc.weight', 'unknown');

    const shaped = base();
    const w = shaped.weightSpecs!.find((x) => x.name === 'layer3.0.conv1.weight')!;
    const good = [...w.shape];
    w.shape = [good[0], good[1], good[3], good[2]];
    expectLabError(() => artifactsToModel(shaped), 'bad-weights', 'layer3.0.conv1.weight', `[${good.join(', ')}]`, `[${w.shape.join(', ')}]`);

    const dtype = base();
    dtype.weightSpecs![0].dtype = 'int32';
    expectLabError(() => artifactsToModel(dtype), 'bad-weights', 'conv1.weight', 'int32');
    expect(tf.memory().numTensors).toBe(before);
  });

  it('reports non-finite weights by tensor', () => {
    const spec = tiny();
    const arrays = arraysFor(spec, 5);
    arrays.get('layer4.1.conv2.weight')![17] = NaN;
    const le = expectLabError(() => artifactsToModel(modelToArtifacts(spec, arrays)), 'bad-weights', 'layer4.1.conv2.weight', 'index 17');
    expect((le.detail!.problems as unknown[]).length).toBe(1);
  });

  it('rejects foreign formats, invalid specs and short weight data', () => {
    const spec = tiny();
    const art = modelToArtifacts(spec, arraysFor(spec, 6));
    expectLabError(() => artifactsToModel({ ...art, format: 'layers-model' }), 'bad-model-file', 'layers-model', MODEL_FORMAT);
    const broken = JSON.parse(JSON.stringify(spec)) as ResNetSpec;
    broken.stages[1][0].inC += 1;
    expectLabError(() => artifactsToModel({ ...art, modelTopology: { spec: broken } }), 'bad-model-file', 'layer2.0');
    expectLabError(() => artifactsToModel({ ...art, modelTopology: {} }), 'bad-model-file', 'spec');
    expectLabError(() => artifactsToModel({ ...art, modelTopology: { spec: { ...spec, stages: [[null], ...spec.stages.slice(1)] } } }), 'bad-model-file', 'malformed');
    const data = art.weightData as ArrayBuffer;
    expectLabError(
      () => artifactsToModel({ ...art, weightData: data.slice(0, data.byteLength - 8) }),
      'bad-weights',
      `${data.byteLength - 8} bytes`,
      `${data.byteLength}`,
    );
  });
});

describe('tf.io handlers', () => {
  it('saveModel/loadModel work through tf.io handlers and rebuild the same network', async () => {
    const spec = tiny();
    const model = ReidModel.fromArrays(spec, arraysFor(spec, 7));
    let saved: tf.io.ModelArtifacts | undefined;
    await saveModel(model, tf.io.withSaveHandler(async (a) => {
      saved = a;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }), { dtype: 'float32', card: { mAP: 0.5 } });
    const before = tf.memory().numTensors;
    const { model: loaded, card } = await loadModel(tf.io.fromMemory(saved!));
    expect(card).toEqual({ mAP: 0.5 });
    const x = tf.randomNormal([2, 64, 32, 3], 0, 1, 'float32', 3) as tf.Tensor4D;
    const [a, b] = [model.embed(x), loaded.embed(x)];
    expect(Array.from(await a.data())).toEqual(Array.from(await b.data()));
    tf.dispose([a, b, x]);
    loaded.dispose();
    model.dispose();
    expect(tf.memory().numTensors).toBe(before - listParams(spec).length);
  });

  it('loads a saved folder over http with tfjs\'s own http handler', async () => {
    const spec = tiny();
    const arrays = arraysFor(spec, 12);
    const d = path.join(dir, 'served');
    // Small shards so the http loader has to fetch and order several files.
    await modelFolder(d, { shardBytes: 20_000 }).save!(modelToArtifacts(spec, arrays, { card: { via: 'http' } }));
    const server: Server = createServer(async (req, res) => {
      try {
        const body = await readFile(path.join(d, path.basename(req.url ?? '')));
        res.writeHead(200).end(body);
      } catch {
        res.writeHead(404).end();
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/model.json`;
    try {
      const { model, card } = await loadModel(url);
      expect(card).toEqual({ via: 'http' });
      const got = await model.toArrays();
      model.dispose();
      for (const [name, v] of arrays) expect(Array.from(got.get(name)!), name).toEqual(Array.from(v));
      const shards = (await readdir(d)).filter((f) => f.endsWith('.bin'));
      expect(shards.length).toBeGreaterThan(2);
      await truncate(path.join(d, shards[1]), 100);
      await expect(loadModel(url)).rejects.toMatchObject({ code: 'bad-weights', message: expect.stringContaining('the manifest needs') });
    } finally {
      await new Promise((r) => server.close(r));
    }
  });

  it('says clearly when a URL scheme has no handler', async () => {
    await expect(loadModel('indexeddb://nope')).rejects.toMatchObject({ code: 'bad-argument' });
  });
});

describe('Node model folder', () => {
  it('writes model.json + 4 MiB shards named like tfjs and reads them back exactly', async () => {
    // ResNet-18 at width 0.5 has ~2.8 M values: three shards.
    const spec = buildSpec({ depth: 18, widthMultiplier: 0.5, inputHeight: 64, inputWidth: 32 });
    const arrays = arraysFor(spec, 8);
    const model = ReidModel.fromArrays(spec, arrays);
    const d = path.join(dir, 'r18');
    await saveModelToFolder(model, d, { card: { name: 'r18' } });
    model.dispose();
    const files = (await readdir(d)).sort();
    const bytes = listParams(spec).reduce((n, p) => n + p.shape.reduce((a, b) => a * b, 1), 0) * 4;
    const n = Math.ceil(bytes / SHARD_BYTES);
    expect(n).toBeGreaterThan(1);
    expect(files).toEqual(['model.json', ...Array.from({ length: n }, (_, i) => `group1-shard${i + 1}of${n}.bin`)].sort());
    for (let i = 1; i <= n; i++) expect((await stat(path.join(d, `group1-shard${i}of${n}.bin`))).size).toBe(i < n ? SHARD_BYTES : bytes - (n - 1) * SHARD_BYTES);
    const json = JSON.parse(await readFile(path.join(d, 'model.json'), 'utf8'));
    expect(json.format).toBe(MODEL_FORMAT);
    expect(json.modelTopology.spec).toEqual(spec);
    expect(json.weightsManifest[0].weights[0]).toEqual({ name: 'conv1.weight', shape: [7, 7, 3, spec.stemC], dtype: 'float32' });

    const { model: back, card } = await loadModelFromFolder(d);
    expect(card).toEqual({ name: 'r18' });
    const got = await back.toArrays();
    back.dispose();
    for (const [name, v] of arrays) expect(Buffer.from(got.get(name)!.buffer).equals(Buffer.from(v.buffer)), name).toBe(true);

    // A truncated middle shard is named, with expected and found byte counts.
    await truncate(path.join(d, `group1-shard2of${n}.bin`), 1000);
    const before = tf.memory().numTensors;
    await expect(loadModelFromFolder(d)).rejects.toMatchObject({
      code: 'bad-weights',
      message: expect.stringMatching(new RegExp(`group1-shard2of${n}\\.bin has 1000 bytes; the manifest needs ${SHARD_BYTES}`)),
    });
    await rm(path.join(d, `group1-shard3of${n}.bin`));
    await expect(loadModelFromFolder(d)).rejects.toMatchObject({ code: 'bad-weights', message: expect.stringContaining(`group1-shard3of${n}.bin`) });
    expect(tf.memory().numTensors).toBe(before);
  });

  it('reports a missing or corrupt model.json', async () => {
    await expect(modelFolder(path.join(dir, 'none')).load!()).rejects.toMatchObject({ code: 'bad-model-file' });
    const d = path.join(dir, 'corrupt');
    const spec = tiny();
    await modelFolder(d).save!(modelToArtifacts(spec, arraysFor(spec, 9)));
    await writeFile(path.join(d, 'model.json'), '{"format": ');
    await expect(modelFolder(d).load!()).rejects.toMatchObject({ code: 'bad-model-file', message: expect.stringContaining('not valid JSON') });
  });

  it('keeps float16 files at half the size and loads them as float32 within half precision', async () => {
    const spec = tiny();
    const arrays = arraysFor(spec, 10);
    const d = path.join(dir, 'half');
    await modelFolder(d).save!(modelToArtifacts(spec, arrays, { dtype: 'float16' }));
    const total = listParams(spec).reduce((n, p) => n + p.shape.reduce((a, b) => a * b, 1), 0);
    expect((await stat(path.join(d, 'group1-shard1of1.bin'))).size).toBe(total * 2);
    const { model } = await loadModelFromFolder(d);
    const got = await model.toArrays();
    model.dispose();
    for (const [name, v] of arrays) {
      const g = got.get(name)!;
      let tooFar = 0;
      for (let i = 0; i < v.length; i++) if (Math.abs(g[i] - v[i]) > Math.max(Math.abs(v[i]) * 2 ** -11, 2 ** -25)) tooFar++;
      expect([name, tooFar]).toEqual([name, 0]);
    }
  });
});
