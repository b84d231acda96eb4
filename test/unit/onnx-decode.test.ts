/**
 * The ONNX decoder without generated code (decode.ts) reads exactly what protobufjs reads, on the
 * lab's exports (plain and pruned, several depths) and on hand-made messages that exercise the
 * wire format's corners: unpacked repeated fields, negative int64, unknown fields, oneofs.
 */
import { describe, expect, it } from 'vitest';
import { buildSpec } from '../../src/engine/model/spec';
import { exportOnnx } from '../../src/engine/onnx/export';
import { decodeModelWire } from '../../src/engine/onnx/decode';
import { encodeModel, onnxModelType, type ModelMsg } from '../../src/engine/onnx/schema';
import { randomArrays } from './onnx-fixtures';

function viaProtobufjs(bytes: Uint8Array): unknown {
  const type = onnxModelType();
  return type.toObject(type.decode(bytes), { longs: Number, enums: Number, defaults: false, arrays: true });
}

/** Repeated fields of onnx.proto the lab never reads, which decode.ts skips like unknown fields. */
const UNREAD = new Set(['externalData', 'stringData', 'uint64Data', 'graphs', 'strings', 'tensors']);

/** Typed arrays and Buffers as plain arrays, unread fields dropped, so the two decoders' objects compare by value. */
function plain(v: unknown): unknown {
  if (ArrayBuffer.isView(v)) return Array.from(v as Uint8Array);
  if (Array.isArray(v)) return v.map(plain);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).filter(([k]) => !UNREAD.has(k)).map(([k, x]) => [k, plain(x)]));
  return v;
}

describe('ONNX decoding without generated code', () => {
  it('matches protobufjs on the lab\u2019s exports', () => {
    for (const opts of [{ depth: 18, widthMultiplier: 0.125 }, { depth: 50, widthMultiplier: 0.0625 }] as const) {
      const spec = buildSpec({ ...opts, inputHeight: 64, inputWidth: 32, numClasses: 5 });
      const bytes = exportOnnx(spec, randomArrays(spec, 3));
      expect(plain(decodeModelWire(bytes))).toEqual(plain(viaProtobufjs(bytes)));
    }
  });

  it('matches protobufjs on negative int64, float/int lists, tensor attributes, dim params and metadata', () => {
    const msg: ModelMsg = {
      irVersion: 8,
      opsetImport: [{ domain: '', version: 17 }],
      producerName: 'hand',
      metadataProps: [{ key: 'k', value: 'v\u00e9' }],
      graph: {
        name: 'g',
        node: [{ opType: 'Reshape', name: 'r', input: ['x', 'shape'], output: ['y'], attribute: [{ name: 'a', type: 7, ints: [-1, 2, 2 ** 40] }, { name: 'f', type: 6, floats: [0.5, -2] }, { name: 't', type: 4, t: { dims: [2], dataType: 7, int64Data: [-3, 4] } }] }],
        initializer: [{ name: 'shape', dims: [2], dataType: 7, int64Data: [-1, 512] }, { name: 'w', dims: [2, 1], dataType: 1, floatData: [1.5, -0.25] }, { name: 'd', dims: [1], dataType: 11, doubleData: [1e-300] }],
        input: [{ name: 'x', type: { tensorType: { elemType: 1, shape: { dim: [{ dimParam: 'N' }, { dimValue: 3 }] } } } }],
        output: [{ name: 'y', type: { tensorType: { elemType: 1 } } }],
      },
    };
    const bytes = encodeModel(msg);
    expect(plain(decodeModelWire(bytes))).toEqual(plain(viaProtobufjs(bytes)));
    const d = decodeModelWire(bytes);
    expect(d.graph!.initializer![0].int64Data).toEqual([-1, 512]);
    expect(d.graph!.node![0].attribute![0].ints).toEqual([-1, 2, 2 ** 40]);
  });

  it('refuses truncated bytes and bad wire types with an Error, like protobufjs', () => {
    const spec = buildSpec({ depth: 18, widthMultiplier: 0.125, inputHeight: 64, inputWidth: 32 });
    const bytes = exportOnnx(spec, randomArrays(spec, 3));
    for (const bad of [bytes.subarray(0, bytes.length - 7), Uint8Array.from([0x0f, 1]), Uint8Array.from([0x3a, 0x80])]) {
      expect(() => decodeModelWire(bad)).toThrow(Error);
      expect(() => viaProtobufjs(bad)).toThrow();
    }
  });
});
