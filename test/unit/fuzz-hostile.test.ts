/**
 * Fuzzing the input classes issue 20's hostile-input session found failures in (round 2):
 * shard paths that leave the model folder, ONNX graphs with cycles, declared-size bombs (ONNX
 * initializer dims, safetensors shapes and offsets, model.json shapes and input sizes, zip
 * entry sizes), and training that diverges to NaN/Infinity.
 *
 * Each case must end in a LabError with a readable message or in a load the case verifies
 * against an oracle computed independently of the loader (harness.ts), within its time limit,
 * with no tensor leaked, and with the process's resident memory at most RSS_CAP above where it
 * started (the failures reached 1.2 to 11 GB).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { mkdtempSync, mkdirSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { zipSync } from 'fflate';
import { initBackend } from '../../src/engine/backend/init';
import { artifactsToModelJson, modelToArtifacts } from '../../src/engine/model/weights-io';
import { loadArraysFromFolder } from '../../src/node/model-files';
import { exportOnnx } from '../../src/engine/onnx/export';
import { importOnnx } from '../../src/engine/onnx/import';
import { decodeModel, encodeModel, type ModelMsg, type NodeMsg } from '../../src/engine/onnx/schema';
import { modelToSafetensors, safetensorsToModel } from '../../src/engine/model/safetensors';
import { zipSource } from '../../src/engine/data/market/zip';
import { bytesRangeReader } from '../../src/engine/data/market/source';
import { buildSpec } from '../../src/engine/model/spec';
import { ReidModel } from '../../src/engine/model/model';
import { train } from '../../src/engine/train/trainer';
import { isLabError } from '../../src/engine/errors';
import { Prng } from '../../src/engine/util/prng';
import { fuzzCase, newTally, summarize, verify, VerificationError, type Tally } from './fuzz/harness';
import { sameArrays, tinyArrays, tinySpec, verifyComplete } from './fuzz/fixtures';
import { syntheticSplit } from './train-fixtures';

const spec = tinySpec();
const arrays = tinyArrays(spec);
const tallies: Tally[] = [];
/** Growth of resident memory allowed over the whole file; the bugs it guards against reached GBs. */
const RSS_CAP = 768 * 2 ** 20;
let rss0 = 0;
let peakRss = 0;
let tmp: string;

function checkRss(t: Tally, label: string): void {
  const rss = process.memoryUsage().rss;
  peakRss = Math.max(peakRss, rss);
  if (rss - rss0 > RSS_CAP) t.failures.push(`${label}: resident memory grew by ${((rss - rss0) / 2 ** 20).toFixed(0)} MB`);
}

beforeAll(async () => {
  await initBackend('wasm');
  tmp = mkdtempSync(path.join(os.tmpdir(), 'lab-fuzz-hostile-'));
  rss0 = process.memoryUsage().rss;
});

afterAll(() => {
  for (const t of tallies) console.info(`[fuzz] ${summarize(t)}`);
  console.info(`[fuzz] hostile: peak RSS ${(peakRss / 2 ** 20).toFixed(0)} MB, growth ${((peakRss - rss0) / 2 ** 20).toFixed(0)} MB`);
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('fuzz: shard paths in model.json (Node folder handler)', () => {
  it('traversal, absolute, symlinked and odd paths (150 cases)', async () => {
    const t = newTally('shard paths');
    tallies.push(t);
    const artifacts = modelToArtifacts(spec, arrays);
    const shard = new Uint8Array(artifacts.weightData as ArrayBuffer);
    const base = path.join(tmp, 'paths');
    const dir = path.join(base, 'm');
    mkdirSync(path.join(dir, 'sub'), { recursive: true });
    mkdirSync(path.join(base, 'other'), { recursive: true });
    const real = 'group1-shard1of1.bin';
    writeFileSync(path.join(dir, real), shard);
    writeFileSync(path.join(dir, 'sub', real), shard);
    // The same bytes outside the folder: following a path there "works", which is the bug.
    writeFileSync(path.join(base, 'other', real), shard);
    symlinkSync(path.join(dir, real), path.join(dir, 'link-in.bin'));
    symlinkSync(path.join(base, 'other', real), path.join(dir, 'link-out.bin'));
    symlinkSync('/etc/passwd', path.join(dir, 'link-etc.bin'));
    symlinkSync(base, path.join(dir, 'link-dir'));
    const root = realpathSync(dir);
    const parts = ['..', '.', real, 'sub', 'other', 'm', 'etc', 'passwd', 'dev', 'zero', 'proc', 'self', 'environ', '', '%2e%2e', '..\\..', 'link-in.bin', 'link-out.bin', 'link-etc.bin', 'link-dir', '~', 'C:', '...', ' ..'];
    const rng = new Prng(2020);
    for (let i = 0; i < 150; i++) {
      const r = rng.fork(i);
      const n = r.int(1, 7);
      let p = Array.from({ length: n }, () => r.pick(parts)).join(r.bool(0.9) ? '/' : '//');
      if (r.bool(0.15)) p = `/${p}`;
      if (r.bool(0.2)) p = `${p}/${real}`;
      if (r.bool(0.05)) p = `${p}\u0000`;
      const json = artifactsToModelJson(artifacts, [p]);
      writeFileSync(path.join(dir, 'model.json'), JSON.stringify(json));
      // Oracle: where the path lands, by the platform's own resolution and symlinks.
      let landed: string | undefined;
      try {
        landed = p.includes('\u0000') || p === '' ? undefined : realpathSync(path.resolve(dir, p));
      } catch {
        landed = undefined;
      }
      const inside = landed !== undefined && !path.relative(root, landed).startsWith('..') && path.relative(root, landed) !== '' && !path.isAbsolute(path.relative(root, landed));
      const lexicallyInside = (() => {
        const rel = path.relative(root, path.resolve(root, p));
        return !path.isAbsolute(p) && rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
      })();
      await fuzzCase(
        t,
        `shard path case ${i}: ${JSON.stringify(p)}`,
        path.isAbsolute(p) ? 'absolute' : p.includes('link') ? 'symlink' : p.includes('..') ? 'dot-dot' : 'other',
        async () => {
          try {
            const loaded = await loadArraysFromFolder(dir);
            verify(inside && lexicallyInside, `loaded through ${JSON.stringify(p)}, which lands at ${landed ?? 'nothing'}, outside the folder`);
            verifyComplete(loaded.spec, loaded.arrays);
            verify(sameArrays(loaded.arrays, arrays), 'loaded other weights than the shard holds');
            return 'loaded (path inside the folder)';
          } catch (e) {
            if (e instanceof VerificationError) throw e;
            if (isLabError(e) && landed !== undefined && !(inside && lexicallyInside) && !e.message.includes('outside the model folder') && !e.message.includes('not a regular file')) {
              throw new VerificationError(`a path landing outside (${landed}) was refused for another reason: ${e.message}`);
            }
            throw e;
          }
        },
        { classify: (e) => (e.message.includes('outside the model folder') ? 'refused: outside the folder' : `${e.code}`) },
      );
      checkRss(t, `shard path case ${i}`);
    }
    expect(t.failures).toEqual([]);
    expect(t.errors['refused: outside the folder']).toBeGreaterThan(30);
    expect(t.loaded['loaded (path inside the folder)']).toBeGreaterThan(5);
  });
});

/** Every node reachable downstream of `n` (through the values it writes), n included. */
function downstream(nodes: NodeMsg[], n: NodeMsg): NodeMsg[] {
  const byInput = new Map<string, NodeMsg[]>();
  for (const x of nodes) for (const i of x.input ?? []) byInput.set(i, [...(byInput.get(i) ?? []), x]);
  const seen = new Set<NodeMsg>([n]);
  const queue = [n];
  while (queue.length) {
    const x = queue.pop()!;
    for (const o of x.output ?? []) for (const y of byInput.get(o) ?? []) if (!seen.has(y)) (seen.add(y), queue.push(y));
  }
  return [...seen];
}

describe('fuzz: ONNX graphs with cycles', () => {
  it('a node fed by its own output or a later one, Identity loops, two-node loops (100 cases)', async () => {
    const t = newTally('ONNX cycles');
    tallies.push(t);
    const onnx = exportOnnx(spec, arrays, { withLogits: true });
    const rng = new Prng(2021);
    for (let i = 0; i < 100; i++) {
      const r = rng.fork(i);
      const m: ModelMsg = decodeModel(onnx);
      const nodes = m.graph!.node!;
      const inits = new Set((m.graph!.initializer ?? []).map((x) => x.name));
      const kind = r.int(0, 2);
      let op: string;
      if (kind === 0) {
        // Rewire a data input of a node to the output of itself or of a node downstream of it.
        const a = r.pick(nodes.filter((n) => (n.input ?? []).some((x) => !inits.has(x))));
        const b = r.pick(downstream(nodes, a));
        const k = (a.input ?? []).findIndex((x) => !inits.has(x));
        a.input![k] = b.output![0];
        op = b === a ? 'self loop' : 'back edge';
      } else if (kind === 1) {
        const at = r.int(0, nodes.length);
        nodes.splice(at, 0, { opType: 'Identity', name: `loop${i}`, input: [`loop${i}`], output: [`loop${i}`] });
        op = 'Identity reading itself';
      } else {
        const v = r.pick(nodes).output![0];
        nodes.push({ opType: 'Relu', name: `x${i}`, input: [`y${i}`], output: [`x${i}`] }, { opType: 'Add', name: `y${i}`, input: [`x${i}`, v], output: [`y${i}`] });
        op = 'two-node loop';
      }
      const bytes = encodeModel(m);
      await fuzzCase(t, `cycle case ${i}`, op, () => {
        importOnnx(bytes);
        throw new VerificationError('a graph with a cycle was imported');
      }, { classify: (e) => (e.message.includes('has a cycle') ? 'refused: cycle' : `other ${e.code}`) });
      checkRss(t, `cycle case ${i}`);
    }
    expect(t.failures).toEqual([]);
    expect(t.errors).toEqual({ 'refused: cycle': 100 });
  });
});

const BOMB_DIMS = [1e6, 2 ** 31, 2 ** 32 + 1, 2 ** 53, 2 ** 53 + 2, -1, -(2 ** 31), 1.5, 0, 1e12, Number.MAX_SAFE_INTEGER];

describe('fuzz: declared-size bombs', () => {
  it('ONNX initializer dims and input dims (60 cases)', async () => {
    const t = newTally('ONNX size bombs');
    tallies.push(t);
    const onnx = exportOnnx(spec, arrays, { withLogits: true });
    const rng = new Prng(2022);
    for (let i = 0; i < 60; i++) {
      const r = rng.fork(i);
      const m = decodeModel(onnx);
      let op: string;
      if (r.bool(0.8)) {
        const init = r.pick(m.graph!.initializer!);
        const dims = (init.dims ?? []).map(Number);
        const k = r.int(0, Math.max(0, dims.length - 1));
        dims[k] = r.pick(BOMB_DIMS);
        if (r.bool(0.3)) dims.push(r.pick(BOMB_DIMS));
        init.dims = dims;
        op = 'initializer dims';
      } else {
        const dim = m.graph!.input![0].type!.tensorType!.shape!.dim!;
        dim[r.int(2, 3)] = { dimValue: r.pick([100000, 2 ** 31, 1e9, 2049]) };
        op = 'input dims';
      }
      const bytes = encodeModel(m);
      await fuzzCase(t, `onnx bomb ${i}`, op, () => {
        const res = importOnnx(bytes);
        verifyComplete(res.spec, res.arrays);
        verify(res.spec.input.height <= 2048 && res.spec.input.width <= 2048, `imported an input of ${res.spec.input.height} x ${res.spec.input.width}`);
        return 'imported (an edit the tensors agree with)';
      });
      checkRss(t, `onnx bomb ${i}`);
    }
    expect(t.failures).toEqual([]);
  });

  it('safetensors shapes, offsets and input-size metadata (60 cases)', async () => {
    const t = newTally('safetensors size bombs');
    tallies.push(t);
    const file = modelToSafetensors(spec, arrays);
    const n = Number(new DataView(file.buffer, file.byteOffset).getBigUint64(0, true));
    const header = JSON.parse(new TextDecoder().decode(file.subarray(8, 8 + n))) as Record<string, { shape?: number[]; data_offsets?: number[] } | Record<string, string>>;
    const data = file.subarray(8 + n);
    const names = Object.keys(header).filter((k) => k !== '__metadata__');
    const rng = new Prng(2023);
    for (let i = 0; i < 60; i++) {
      const r = rng.fork(i);
      const h = structuredClone(header) as typeof header;
      let op: string;
      const e = r.int(0, 2);
      if (e === 0) {
        const entry = h[r.pick(names)] as { shape: number[] };
        entry.shape = entry.shape.length ? entry.shape.map((d, j) => (j === 0 ? r.pick(BOMB_DIMS) : d)) : [r.pick(BOMB_DIMS)];
        op = 'shape';
      } else if (e === 1) {
        const entry = h[r.pick(names)] as { data_offsets: number[] };
        entry.data_offsets = [entry.data_offsets[0], r.pick([2 ** 31, 2 ** 53, 1e15, entry.data_offsets[1] * 1000])];
        op = 'data offsets';
      } else {
        const meta = h.__metadata__ as Record<string, string>;
        const s = JSON.parse(meta['prunability-lab.spec']);
        s.input = { height: r.pick([100000, 2 ** 31, 4097, -64]), width: r.pick([100000, 32, 2 ** 40]) };
        meta['prunability-lab.spec'] = JSON.stringify(s);
        op = 'input size metadata';
      }
      const json = new TextEncoder().encode(JSON.stringify(h));
      const out = new Uint8Array(8 + json.length + data.length);
      new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
      out.set(json, 8);
      out.set(data, 8 + json.length);
      await fuzzCase(t, `safetensors bomb ${i}`, op, () => {
        const res = safetensorsToModel(out);
        verifyComplete(res.spec, res.arrays);
        return 'imported';
      });
      checkRss(t, `safetensors bomb ${i}`);
    }
    expect(t.failures).toEqual([]);
  });

  it('model.json shapes and input size, oversized shards (40 cases)', async () => {
    const t = newTally('model.json size bombs');
    tallies.push(t);
    const artifacts = modelToArtifacts(spec, arrays);
    const shard = new Uint8Array(artifacts.weightData as ArrayBuffer);
    const json0 = artifactsToModelJson(artifacts, ['group1-shard1of1.bin']);
    const dir = path.join(tmp, 'bombs');
    mkdirSync(dir, { recursive: true });
    const rng = new Prng(2024);
    for (let i = 0; i < 40; i++) {
      const r = rng.fork(i);
      const json = structuredClone(json0) as typeof json0 & { modelTopology: { spec: { input: { height: number; width: number } } } };
      let shardBytes: Uint8Array = shard;
      let op: string;
      const e = r.int(0, 2);
      if (e === 0) {
        const w = r.pick(json.weightsManifest[0].weights);
        w.shape = w.shape.map((d, j) => (j === 0 ? r.pick(BOMB_DIMS) : d));
        op = 'entry shape';
      } else if (e === 1) {
        json.modelTopology.spec.input = { height: r.pick([100000, 2049, 2 ** 31]), width: r.pick([32, 100000]) };
        op = 'input size';
      } else {
        // A shard file far larger than the manifest declares (inside the folder).
        shardBytes = new Uint8Array(shard.length * r.int(2, 64));
        shardBytes.set(shard);
        op = 'oversized shard';
      }
      writeFileSync(path.join(dir, 'model.json'), JSON.stringify(json));
      writeFileSync(path.join(dir, 'group1-shard1of1.bin'), shardBytes);
      await fuzzCase(t, `model.json bomb ${i}`, op, async () => {
        const loaded = await loadArraysFromFolder(dir);
        verifyComplete(loaded.spec, loaded.arrays);
        verify(sameArrays(loaded.arrays, arrays), 'loaded other weights than the shard holds');
        return 'loaded (an edit that changes nothing)';
      });
      checkRss(t, `model.json bomb ${i}`);
    }
    expect(t.failures).toEqual([]);
  });

  it('zip entry sizes: declared too large, understated, compressed size inflated (40 cases)', async () => {
    const t = newTally('zip size bombs');
    tallies.push(t);
    const files: Record<string, Uint8Array> = {};
    const rng0 = new Prng(7);
    for (let k = 0; k < 6; k++) files[`query/000${k + 1}_c1s1_00000${k}_00.jpg`] = Uint8Array.from({ length: 200 + 50 * k }, () => rng0.int(0, 255));
    files['bounding_box_test/0001_c2s1_000001_00.jpg'] = new Uint8Array(256 << 10); // compressible: a small bomb
    const zip = zipSync(files, { level: 6 });
    const names = Object.keys(files);
    // Central directory entry offsets, in order (zipSync writes them in insertion order).
    const cdEntries: number[] = [];
    for (let p = 0; p + 4 <= zip.length; p++) if (zip[p] === 0x50 && zip[p + 1] === 0x4b && zip[p + 2] === 1 && zip[p + 3] === 2) cdEntries.push(p);
    const rng = new Prng(2025);
    for (let i = 0; i < 40; i++) {
      const r = rng.fork(i);
      const z = zip.slice();
      const view = new DataView(z.buffer);
      const k = r.int(0, cdEntries.length - 1);
      const e = r.int(0, 2);
      const op = ['declared size too large', 'declared size understated', 'compressed size inflated'][e];
      if (e === 0) view.setUint32(cdEntries[k] + 24, r.pick([64 << 20, (64 << 20) + 1, 0xfffffffe, 1 << 30]), true);
      else if (e === 1) view.setUint32(cdEntries[k] + 24, r.int(0, 100), true);
      else view.setUint32(cdEntries[k] + 20, r.pick([0xfffffffe, 1 << 30, z.length * 4]), true);
      await fuzzCase(t, `zip bomb ${i}`, op, async () => {
        const src = await zipSource(bytesRangeReader(z), 'bomb.zip');
        let refused = 0;
        for (const name of names) {
          try {
            const got = await src.read(name);
            const want = files[name];
            verify(got.length === want.length && got.every((b, j) => b === want[j]), `${name} read as other bytes than were zipped`);
          } catch (err) {
            if (err instanceof VerificationError || !isLabError(err)) throw err;
            verify(err.detail?.damaged === true, `${name}: refused without marking the entry damaged: ${err.message}`);
            refused++;
          }
        }
        verify(refused > 0 || e === 1, 'a size edit that should be refused was read');
        return refused > 0 ? 'entry refused, the others read intact' : 'read intact';
      });
      checkRss(t, `zip bomb ${i}`);
    }
    expect(t.failures).toEqual([]);
  });
});

describe('fuzz: training that diverges', () => {
  it('huge learning rates, both optimisers, NaN or Infinity planted in a weight (40 cases)', async () => {
    const t = newTally('non-finite training');
    tallies.push(t);
    const H = 32;
    const W = 16;
    const split = syntheticSplit({ ids: 4, perId: 3, height: H, width: W, seed: 5, firstPid: 1 });
    const small = buildSpec({ depth: 18, widthMultiplier: 0.0625, inputHeight: H, inputWidth: W });
    const rng = new Prng(2026);
    for (let i = 0; i < 40; i++) {
      const r = rng.fork(i);
      const kind = r.pick(['adam', 'sgd'] as const);
      const lr = r.pick([1e-4, 1e2, 1e6, 1e10, 1e20, 1e30]);
      const steps = r.int(2, 4);
      const plant = r.bool(0.25) ? r.pick([NaN, Infinity, -Infinity]) : undefined;
      const op = plant !== undefined ? `planted ${plant}` : `${kind} lr ${lr}`;
      await fuzzCase(t, `training case ${i}`, op, async () => {
        const model = ReidModel.init(small, i);
        try {
          if (plant !== undefined) {
            const v = model.params.get(r.pick([...model.params.keys()].filter((k) => k.endsWith('weight'))))!;
            const a = new Float32Array(await v.data());
            a[r.int(0, a.length - 1)] = plant;
            tf.tidy(() => v.assign(tf.tensor(a, v.shape)));
          }
          const before = await model.toArrays();
          const snapshot = new Map([...before].map(([k, v]) => [k, new Float32Array(v)]));
          try {
            const res = await train(model, split, { steps, p: 2, k: 2, classifier: 'fresh', optimizer: kind === 'adam' ? { kind, lr } : { kind, lr, momentum: 0.9 } });
            verify(plant === undefined, 'trained through a planted non-finite weight');
            verify(res.steps === steps, `stopped at ${res.steps} of ${steps} without an error`);
            for (const [k, a] of await model.toArrays()) verify(a.every(Number.isFinite), `${k} is not finite after a completed run`);
            return 'trained, every weight finite';
          } catch (e) {
            if (!isLabError(e, 'training-diverged')) throw e;
            const after = await model.toArrays();
            if (plant !== undefined) {
              verify((e.detail as { step: number }).step === 1, 'a planted NaN was not caught at step 1');
              verify(sameArrays(after, snapshot), 'the model changed although step 1 diverged');
            } else {
              for (const [k, a] of after) verify(a.every(Number.isFinite), `${k} is not finite after the divergence stop`);
            }
            throw e;
          }
        } finally {
          model.dispose();
        }
      }, { timeoutMs: 15_000 });
      checkRss(t, `training case ${i}`);
    }
    expect(t.failures).toEqual([]);
    expect(t.errors['training-diverged']).toBeGreaterThan(10);
    expect(t.loaded['trained, every weight finite']).toBeGreaterThan(3);
  });
});
