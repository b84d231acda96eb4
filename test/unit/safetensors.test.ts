import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { buildSpec, cloneSpec, type ResNetSpec } from '../../src/engine/model/spec';
import { listParams } from '../../src/engine/model/names';
import { initParamArrays, type ParamArrays } from '../../src/engine/model/init';
import { ReidModel } from '../../src/engine/model/model';
import { modelToSafetensors, parseSafetensors, safetensorsToModel, tensorToFloat32 } from '../../src/engine/model/safetensors';
import { canonicalKey, torchShape } from '../../src/engine/model/state-dict';
import { isLabError, type LabError } from '../../src/engine/errors';

// ---- An encoder written independently of src/: header JSON built by string concatenation. ----
type HandTensor = { name: string; dtype: string; shape: number[]; bytes: Uint8Array };
function handBuild(tensors: HandTensor[], metadata?: Record<string, string>, tweak?: (entries: string[]) => void): Uint8Array {
  const entries: string[] = [];
  if (metadata) entries.push(`"__metadata__":${JSON.stringify(metadata)}`);
  let off = 0;
  for (const t of tensors) {
    entries.push(`"${t.name}":{"dtype":"${t.dtype}","shape":[${t.shape.join(',')}],"data_offsets":[${off},${off + t.bytes.length}]}`);
    off += t.bytes.length;
  }
  tweak?.(entries);
  const header = Buffer.from('{' + entries.join(',') + '}', 'utf8');
  const len = Buffer.alloc(8);
  len.writeUInt32LE(header.length, 0); // high 32 bits stay 0
  return new Uint8Array(Buffer.concat([len, header, ...tensors.map((t) => Buffer.from(t.bytes))]));
}
const f32bytes = (v: number[]) => {
  const b = Buffer.alloc(v.length * 4);
  v.forEach((x, i) => b.writeFloatLE(x, i * 4));
  return new Uint8Array(b);
};

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

beforeAll(async () => {
  await tf.setBackend('wasm');
  await tf.ready();
});

describe('parseSafetensors on hand-built bytes', () => {
  it('reads F32, F16, BF16, F64 and I64 tensors and the metadata', () => {
    const bytes = handBuild(
      [
        { name: 'a', dtype: 'F32', shape: [2, 2], bytes: f32bytes([1.5, -2, 0.25, 3]) },
        // float16 1.0, -2.0, 0.5, 65504 = 0x3c00 0xc000 0x3800 0x7bff, little-endian
        { name: 'h', dtype: 'F16', shape: [4], bytes: new Uint8Array([0x00, 0x3c, 0x00, 0xc0, 0x00, 0x38, 0xff, 0x7b]) },
        // bfloat16 1.0 = 0x3f80, -3.0 = 0xc040
        { name: 'bf', dtype: 'BF16', shape: [2], bytes: new Uint8Array([0x80, 0x3f, 0x40, 0xc0]) },
        { name: 'd', dtype: 'F64', shape: [1], bytes: new Uint8Array(new Float64Array([0.125]).buffer) },
        { name: 'n', dtype: 'I64', shape: [], bytes: new Uint8Array([7, 0, 0, 0, 0, 0, 0, 0]) },
      ],
      { format: 'pt', note: 'hand' },
    );
    const f = parseSafetensors(bytes);
    expect(f.metadata).toEqual({ format: 'pt', note: 'hand' });
    expect([...f.tensors.keys()]).toEqual(['a', 'h', 'bf', 'd', 'n']);
    expect(f.tensors.get('a')!.shape).toEqual([2, 2]);
    expect(Array.from(tensorToFloat32(f.tensors.get('a')!))).toEqual([1.5, -2, 0.25, 3]);
    expect(Array.from(tensorToFloat32(f.tensors.get('h')!))).toEqual([1, -2, 0.5, 65504]);
    expect(Array.from(tensorToFloat32(f.tensors.get('bf')!))).toEqual([1, -3]);
    expect(Array.from(tensorToFloat32(f.tensors.get('d')!))).toEqual([0.125]);
    expect(Array.from(tensorToFloat32(f.tensors.get('n')!))).toEqual([7]);
  });

  it('rejects malformed files with a sentence saying what is wrong', () => {
    const ok: HandTensor[] = [
      { name: 'a', dtype: 'F32', shape: [2], bytes: f32bytes([1, 2]) },
      { name: 'b', dtype: 'F32', shape: [1], bytes: f32bytes([3]) },
    ];
    expectLabError(() => parseSafetensors(new Uint8Array(5)), 'bad-safetensors', '5 bytes');
    const huge = handBuild(ok);
    new DataView(huge.buffer).setUint32(0, 1 << 30, true);
    expectLabError(() => parseSafetensors(huge), 'bad-safetensors', `${1 << 30} bytes`, `only ${huge.length - 8}`);
    const badJson = handBuild(ok, undefined, (e) => (e[0] = e[0].slice(0, -1)));
    expectLabError(() => parseSafetensors(badJson), 'bad-safetensors', 'not valid JSON');
    const overlap = handBuild(ok, undefined, (e) => (e[1] = e[1].replace('[8,12]', '[4,8]')));
    // b now spans a's second value and the last 4 bytes are unused; the overlap is reported first.
    expectLabError(() => parseSafetensors(overlap), 'bad-safetensors', 'overlap');
    const outOfRange = handBuild(ok, undefined, (e) => (e[1] = e[1].replace('[8,12]', '[12,16]')));
    expectLabError(() => parseSafetensors(outOfRange), 'bad-safetensors', 'b ends at byte 16', '12 data bytes');
    const wrongSize = handBuild(ok, undefined, (e) => (e[0] = e[0].replace('"shape":[2]', '"shape":[3]')));
    expectLabError(() => parseSafetensors(wrongSize), 'bad-safetensors', 'needs 12 bytes', 'span 8');
    const dtype = handBuild(ok, undefined, (e) => (e[0] = e[0].replace('F32', 'Q7')));
    expectLabError(() => parseSafetensors(dtype), 'bad-safetensors', '"Q7"');
    const truncated = handBuild(ok).slice(0, -2);
    expectLabError(() => parseSafetensors(truncated), 'bad-safetensors', 'beyond the 10 data bytes');
    const trailing = new Uint8Array([...handBuild(ok), 0, 0, 0, 0]);
    expectLabError(() => parseSafetensors(trailing), 'bad-safetensors', '4 bytes after its last tensor');
    const meta = handBuild(ok, undefined, (e) => e.unshift('"__metadata__":{"x":1}'));
    expectLabError(() => parseSafetensors(meta), 'bad-safetensors', '__metadata__');
  });
});

// ---- A fast-reid style checkpoint of a tiny ResNet-18, built by hand in PyTorch layout. ----

/** Value of PyTorch conv element [o, i, h, w]: its own coordinates, exactly representable. */
const code = (o: number, i: number, h: number, w: number) => o * 10000 + i * 100 + h * 10 + w;

function fastReidCheckpoint(spec: ResNetSpec, opts: { dropKey?: string; extra?: boolean; f16Key?: string } = {}): Uint8Array {
  const tensors: HandTensor[] = [];
  const toKey = (name: string) =>
    name.startsWith('bnneck.')
      ? 'module.heads.bottleneck.0.' + name.slice(7)
      : name.startsWith('classifier.')
        ? 'module.heads.' + name
        : 'module.backbone.' + name;
  for (const p of listParams(spec)) {
    if (p.name === opts.dropKey || p.name === 'classifier.bias') continue; // fast-reid's classifier has no bias
    const shape = torchShape(p);
    const n = shape.reduce((a, b) => a * b, 1);
    const values: number[] = [];
    if (p.role === 'conv') {
      const [O, I, KH, KW] = shape;
      for (let o = 0; o < O; o++) for (let i = 0; i < I; i++) for (let h = 0; h < KH; h++) for (let w = 0; w < KW; w++) values.push(code(o, i, h, w));
    } else if (p.role === 'linear.weight') {
      for (let r = 0; r < shape[0]; r++) for (let c = 0; c < shape[1]; c++) values.push(r * 1000 + c);
    } else {
      for (let i = 0; i < n; i++) values.push(p.role === 'bn.running_var' ? 1 + i / 8 : (i % 7) / 4 - 0.5);
    }
    if (p.name === opts.f16Key) {
      const b = Buffer.alloc(n * 2);
      // (i % 7) / 4 - 0.5 are exact in half precision: hand-encode them.
      values.forEach((v, i) => b.writeUInt16LE(halfBits(v), i * 2));
      tensors.push({ name: toKey(p.name), dtype: 'F16', shape, bytes: new Uint8Array(b) });
    } else {
      tensors.push({ name: toKey(p.name), dtype: 'F32', shape, bytes: f32bytes(values) });
    }
    if (p.role === 'bn.running_var') {
      tensors.push({ name: toKey(p.name).replace('running_var', 'num_batches_tracked'), dtype: 'I64', shape: [], bytes: new Uint8Array(8) });
    }
  }
  tensors.push({ name: 'pixel_mean', dtype: 'F32', shape: [1, 3, 1, 1], bytes: f32bytes([123.675, 116.28, 103.53]) });
  if (opts.extra) tensors.push({ name: 'module.backbone.layer1.0.se.fc.weight', dtype: 'F32', shape: [2, 2], bytes: f32bytes([0, 0, 0, 0]) });
  return handBuild(tensors);
}

/** Half bits for the few exact values used above (multiples of 1/4 in [-0.5, 1]). */
function halfBits(v: number): number {
  if (v === 0) return 0;
  const sign = v < 0 ? 0x8000 : 0;
  const a = Math.abs(v);
  const e = Math.floor(Math.log2(a));
  const mant = Math.round((a / 2 ** e - 1) * 1024);
  return sign | ((e + 15) << 10) | mant;
}

describe('PyTorch state_dict import', () => {
  const spec = buildSpec({ depth: 18, widthMultiplier: 0.125, inputHeight: 64, inputWidth: 32, numClasses: 3 });

  it('maps fast-reid keys, converts OIHW -> HWIO and [out,in] -> [in,out], and infers the spec', () => {
    const res = safetensorsToModel(fastReidCheckpoint(spec, { f16Key: 'layer2.0.bn1.bias' }), { inputHeight: 64, inputWidth: 32 });
    const expected = cloneSpec(spec);
    expected.widthMultiplier = spec.stemC / 64; // informational; inferred from the stem
    expect(res.spec).toEqual(expected);
    expect(res.notes.join(' ')).toContain('pixel_mean');
    expect(res.notes.join(' ')).toContain('bias');
    // Conv: lab [kh, kw, in, out] holds PyTorch [out, in, kh, kw]'s element.
    const w = res.arrays.get('layer2.0.conv1.weight')!;
    const [KH, KW, I, O] = listParams(spec).find((p) => p.name === 'layer2.0.conv1.weight')!.shape;
    let wrong = 0;
    for (let h = 0; h < KH; h++) for (let x = 0; x < KW; x++) for (let i = 0; i < I; i++) for (let o = 0; o < O; o++) if (w[((h * KW + x) * I + i) * O + o] !== code(o, i, h, x)) wrong++;
    expect(wrong).toBe(0);
    // Linear: lab [in, out][c][r] = PyTorch [out, in][r][c].
    const fc = res.arrays.get('classifier.weight')!;
    expect(fc[5 * 3 + 2]).toBe(2 * 1000 + 5);
    expect(Array.from(res.arrays.get('classifier.bias')!)).toEqual([0, 0, 0]);
    expect(Array.from(res.arrays.get('layer2.0.bn1.bias')!.slice(0, 7))).toEqual([-0.5, -0.25, 0, 0.25, 0.5, 0.75, 1]);
    expect(res.arrays.get('bnneck.running_var')![8]).toBe(2);
  });

  it('agrees with tf.transpose(OIHW, [2, 3, 1, 0]) on a stem conv', () => {
    const res = safetensorsToModel(fastReidCheckpoint(spec));
    const sh = torchShape(listParams(spec)[0]);
    const torch: number[] = [];
    for (let o = 0; o < sh[0]; o++) for (let i = 0; i < 3; i++) for (let h = 0; h < 7; h++) for (let w = 0; w < 7; w++) torch.push(code(o, i, h, w));
    const t = tf.tidy(() => tf.transpose(tf.tensor(torch, sh), [2, 3, 1, 0]).dataSync());
    expect(Array.from(res.arrays.get('conv1.weight')!)).toEqual(Array.from(t));
  });

  it('names missing, extra and mis-shaped tensors with expected vs found', () => {
    expectLabError(() => safetensorsToModel(fastReidCheckpoint(spec, { dropKey: 'layer3.1.bn2.running_mean' })), 'bad-weights', 'layer3.1.bn2.running_mean', 'missing', `[${spec.stages[2][1].outC}]`);
    expectLabError(() => safetensorsToModel(fastReidCheckpoint(spec, { extra: true })), 'bad-weights', 'module.backbone.layer1.0.se.fc.weight', 'extra');
    // A BN whose size disagrees with its conv: the conv says 16 channels, the BN has 15.
    const s2 = cloneSpec(spec);
    const bytes = fastReidCheckpoint(s2);
    const f = parseSafetensors(bytes);
    const tensors: HandTensor[] = [...f.tensors].map(([name, t]) => ({ name, dtype: t.dtype, shape: t.shape, bytes: t.bytes }));
    const bn = tensors.find((t) => t.name === 'module.backbone.layer1.1.bn1.weight')!;
    const c = bn.shape[0];
    bn.shape = [c - 1];
    bn.bytes = bn.bytes.slice(0, (c - 1) * 4);
    expectLabError(() => safetensorsToModel(handBuild(tensors)), 'bad-weights', 'module.backbone.layer1.1.bn1.weight', `expected shape [${c}]`, `found shape [${c - 1}]`);
    // Non-finite values are named too.
    const nan = [...f.tensors].map(([name, t]) => ({ name, dtype: t.dtype, shape: t.shape, bytes: t.bytes.slice() }));
    new DataView(nan.find((t) => t.name === 'module.backbone.layer2.0.conv2.weight')!.bytes.buffer).setFloat32(12, NaN, true);
    expectLabError(() => safetensorsToModel(handBuild(nan)), 'bad-weights', 'module.backbone.layer2.0.conv2.weight', 'index 3');
  });

  it('recognises unsupported depths', () => {
    // Five blocks in layer1 of a basic-block net: not ResNet-18/34.
    const t = (name: string, shape: number[]): HandTensor => ({ name, dtype: 'F32', shape, bytes: new Uint8Array(shape.reduce((a, b) => a * b, 1) * 4) });
    const ts = [t('conv1.weight', [4, 3, 7, 7])];
    for (let i = 0; i < 5; i++) ts.push(t(`layer1.${i}.conv1.weight`, [4, 4, 3, 3]), t(`layer1.${i}.conv2.weight`, [4, 4, 3, 3]));
    expectLabError(() => safetensorsToModel(handBuild(ts)), 'bad-weights', '[5, 0, 0, 0] basic', 'ResNet-18');
  });
});

describe('safetensors export', () => {
  function arraysFor(spec: ResNetSpec): ParamArrays {
    const a = initParamArrays(spec, 11);
    let k = 0;
    for (const v of a.values()) {
      for (let i = 0; i < v.length; i++) v[i] += Math.cos(i + k) * 0.01;
      k++;
    }
    return a;
  }

  it('round-trips a pruned ResNet-50 with fast-reid names, and the imported model computes the same embeddings', async () => {
    const spec = buildSpec({ depth: 50, widthMultiplier: 0.125, inputHeight: 64, inputWidth: 32, lastStride: 2, numClasses: 4 });
    // Prune by hand: uneven inner channel counts that only the tensors can tell.
    spec.stages[0][1].mid = [3, 5];
    spec.stages[2][4].mid = [7, 2];
    spec.stemC = 6;
    spec.stages[0][0].inC = 6;
    const arrays = arraysFor(spec);
    const bytes = modelToSafetensors(spec, arrays, { keyStyle: 'fastreid' });
    const f = parseSafetensors(bytes);
    expect(f.tensors.get('backbone.layer1.1.conv2.weight')!.shape).toEqual([5, 3, 3, 3]);
    expect(f.tensors.get('heads.bottleneck.0.running_var')!.dtype).toBe('F32');
    expect(f.tensors.get('backbone.layer1.0.bn1.num_batches_tracked')!.dtype).toBe('I64');
    expect(f.tensors.get('heads.classifier.weight')!.shape).toEqual([4, spec.stages[3][2].outC]);
    // The spec in the metadata brings back what weights cannot tell (input size, last stride).
    const res = safetensorsToModel(bytes);
    expect(res.spec).toEqual(spec);
    for (const [name, v] of arrays) expect(Array.from(res.arrays.get(name)!), name).toEqual(Array.from(v));

    const a = ReidModel.fromArrays(spec, arrays);
    const b = ReidModel.fromArrays(res.spec, res.arrays);
    const x = tf.randomNormal([2, 64, 32, 3], 0, 1, 'float32', 5) as tf.Tensor4D;
    const [ea, eb] = [a.embed(x), b.embed(x)];
    expect(Array.from(await eb.data())).toEqual(Array.from(await ea.data()));
    tf.dispose([x, ea, eb]);
    a.dispose();
    b.dispose();
  });

  it('defaults to last stride 1 and 128x64 without metadata, with options taking precedence', () => {
    const spec = buildSpec({ depth: 18, widthMultiplier: 0.125, lastStride: 2 });
    const plain = parseSafetensors(modelToSafetensors(spec, arraysFor(spec)));
    const rebuilt = [...plain.tensors].map(([name, t]) => ({ name, dtype: t.dtype, shape: t.shape, bytes: t.bytes }));
    const noMeta = safetensorsToModel(handBuild(rebuilt));
    expect(noMeta.spec.lastStride).toBe(1);
    expect(noMeta.spec.input).toEqual({ height: 128, width: 64 });
    expect(noMeta.spec.stages[3][0].stride).toBe(1);
    const opt = safetensorsToModel(handBuild(rebuilt, { input_size: '256x128' }), { lastStride: 2 });
    expect(opt.spec.stages[3][0].stride).toBe(2);
    expect(opt.spec.input).toEqual({ height: 256, width: 128 });
  });

  it('exports F16 within half precision', () => {
    const spec = buildSpec({ depth: 18, widthMultiplier: 0.125, inputHeight: 64, inputWidth: 32 });
    const arrays = arraysFor(spec);
    const res = safetensorsToModel(modelToSafetensors(spec, arrays, { dtype: 'F16' }));
    let far = 0;
    for (const [name, v] of arrays) {
      const g = res.arrays.get(name)!;
      for (let i = 0; i < v.length; i++) if (Math.abs(g[i] - v[i]) > Math.max(Math.abs(v[i]) * 2 ** -11, 2 ** -25)) far++;
    }
    expect(far).toBe(0);
  });

  it('strips module./backbone./base. prefixes and renames heads', () => {
    expect(canonicalKey('module.backbone.layer1.0.conv1.weight')).toBe('layer1.0.conv1.weight');
    expect(canonicalKey('base.layer4.2.bn3.running_var')).toBe('layer4.2.bn3.running_var');
    expect(canonicalKey('heads.bottleneck.0.bias')).toBe('bnneck.bias');
    expect(canonicalKey('bottleneck.weight')).toBe('bnneck.weight');
    expect(canonicalKey('fc.weight')).toBe('classifier.weight');
    expect(canonicalKey('module.heads.classifier.weight')).toBe('classifier.weight');
    expect(canonicalKey('layer1.0.bn1.num_batches_tracked')).toBeNull();
  });
});
