/**
 * ONNX ModelProto decoding without generated code. protobufjs builds its decoders with
 * `new Function`, which the page's Content-Security-Policy forbids (no 'unsafe-eval'), so
 * opening an ONNX file in the browser failed; this reads the protobuf wire format directly for
 * the subset of onnx.proto the lab uses (schema.ts), producing the same plain objects as
 * protobufjs's toObject with { longs: Number, enums: Number, defaults: false, arrays: true }:
 * repeated fields always present (possibly empty), scalars only when on the wire, int64 as
 * numbers, bytes as Uint8Array copies. Unknown fields are skipped by wire type, as protobuf does.
 */
import type { AttributeMsg, DimMsg, GraphMsg, ModelMsg, NodeMsg, TensorMsg, ValueInfoMsg } from './schema';

const VARINT = 0;
const FIXED64 = 1;
const BYTES = 2;
const FIXED32 = 5;

class WireReader {
  pos: number;
  private readonly view: DataView;
  private static readonly text = new TextDecoder('utf-8');

  constructor(
    private readonly buf: Uint8Array,
    start = 0,
    readonly end = buf.length,
  ) {
    this.pos = start;
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  private need(n: number): void {
    if (n < 0 || this.pos + n > this.end) throw new Error(`index out of range: ${this.pos} + ${n} > ${this.end}`);
  }

  /** A varint as a 64-bit two's complement integer, as a (possibly imprecise) number. */
  varint(): number {
    let lo = 0;
    let shift = 0;
    // Up to 4 bytes fit a 28-bit value exactly with plain numbers; longer ones go through BigInt.
    for (let i = 0; i < 4; i++) {
      this.need(1);
      const b = this.buf[this.pos++];
      lo |= (b & 0x7f) << shift;
      if (b < 0x80) return lo >>> 0;
      shift += 7;
    }
    let v = BigInt(lo >>> 0);
    let big = 28n;
    for (let i = 4; i < 10; i++) {
      this.need(1);
      const b = this.buf[this.pos++];
      v |= BigInt(b & 0x7f) << big;
      if (b < 0x80) return Number(BigInt.asIntN(64, v));
      big += 7n;
    }
    throw new Error('invalid varint encoding');
  }

  /** An int32 field: a varint truncated to 32 bits, signed. */
  int32(): number {
    return this.varint() | 0;
  }

  float(): number {
    this.need(4);
    const v = this.view.getFloat32(this.pos, true);
    this.pos += 4;
    return v;
  }

  double(): number {
    this.need(8);
    const v = this.view.getFloat64(this.pos, true);
    this.pos += 8;
    return v;
  }

  /** The extent of a length-delimited field. */
  span(): [number, number] {
    const n = this.varint();
    this.need(n);
    const at = this.pos;
    this.pos += n;
    return [at, at + n];
  }

  bytes(): Uint8Array {
    const [a, b] = this.span();
    return this.buf.slice(a, b);
  }

  string(): string {
    const [a, b] = this.span();
    return WireReader.text.decode(this.buf.subarray(a, b));
  }

  sub(): WireReader {
    const [a, b] = this.span();
    return new WireReader(this.buf, a, b);
  }

  skip(wire: number): void {
    if (wire === VARINT) this.varint();
    else if (wire === FIXED64) {
      this.need(8);
      this.pos += 8;
    } else if (wire === BYTES) this.span();
    else if (wire === FIXED32) {
      this.need(4);
      this.pos += 4;
    } else throw new Error(`invalid wire type ${wire} at offset ${this.pos}`);
  }

  /** Each field of this message: `on(field, wire)` reads it or returns false to skip it. */
  fields(on: (field: number, wire: number) => boolean): void {
    while (this.pos < this.end) {
      const tag = this.varint();
      const field = Math.floor(tag / 8);
      const wire = tag & 7;
      if (field === 0) throw new Error(`illegal field number 0 at offset ${this.pos}`);
      if (!on(field, wire)) this.skip(wire);
    }
  }

  /** A repeated scalar, packed (one length-delimited run) or not (one value per tag). */
  repeated(wire: number, scalarWire: number, read: (r: WireReader) => number, into: number[]): void {
    if (wire === BYTES && scalarWire !== BYTES) {
      const r = this.sub();
      while (r.pos < r.end) into.push(read(r));
    } else {
      if (wire !== scalarWire) throw new Error(`wire type ${wire} where ${scalarWire} was expected`);
      into.push(read(this));
    }
  }
}

function expectWire(wire: number, want: number): void {
  if (wire !== want) throw new Error(`wire type ${wire} where ${want} was expected`);
}

function tensor(r: WireReader): TensorMsg {
  const t: TensorMsg & { dims: number[]; floatData: number[]; int32Data: number[]; int64Data: number[]; doubleData: number[] } = { dims: [], floatData: [], int32Data: [], int64Data: [], doubleData: [] };
  r.fields((f, w) => {
    if (f === 1) r.repeated(w, VARINT, (x) => x.varint(), t.dims);
    else if (f === 2) (expectWire(w, VARINT), (t.dataType = r.int32()));
    else if (f === 4) r.repeated(w, FIXED32, (x) => x.float(), t.floatData);
    else if (f === 5) r.repeated(w, VARINT, (x) => x.int32(), t.int32Data);
    else if (f === 7) r.repeated(w, VARINT, (x) => x.varint(), t.int64Data);
    else if (f === 8) (expectWire(w, BYTES), (t.name = r.string()));
    else if (f === 9) (expectWire(w, BYTES), (t.rawData = r.bytes()));
    else if (f === 10) r.repeated(w, FIXED64, (x) => x.double(), t.doubleData);
    else if (f === 14) (expectWire(w, VARINT), (t.dataLocation = r.int32()));
    else return false;
    return true;
  });
  return t;
}

function attribute(r: WireReader): AttributeMsg {
  const a: AttributeMsg & { floats: number[]; ints: number[] } = { name: '', floats: [], ints: [] };
  let named = false;
  r.fields((f, w) => {
    if (f === 1) (expectWire(w, BYTES), (a.name = r.string()), (named = true));
    else if (f === 20) (expectWire(w, VARINT), (a.type = r.int32()));
    else if (f === 2) (expectWire(w, FIXED32), (a.f = r.float()));
    else if (f === 3) (expectWire(w, VARINT), (a.i = r.varint()));
    else if (f === 4) (expectWire(w, BYTES), (a.s = r.bytes()));
    else if (f === 5) (expectWire(w, BYTES), (a.t = tensor(r.sub())));
    else if (f === 7) r.repeated(w, FIXED32, (x) => x.float(), a.floats);
    else if (f === 8) r.repeated(w, VARINT, (x) => x.varint(), a.ints);
    else return false;
    return true;
  });
  if (!named) delete (a as Partial<AttributeMsg>).name;
  return a;
}

function node(r: WireReader): NodeMsg {
  const n: NodeMsg & { input: string[]; output: string[]; attribute: AttributeMsg[] } = { input: [], output: [], attribute: [], opType: '' };
  let typed = false;
  r.fields((f, w) => {
    if (f === 1) (expectWire(w, BYTES), n.input.push(r.string()));
    else if (f === 2) (expectWire(w, BYTES), n.output.push(r.string()));
    else if (f === 3) (expectWire(w, BYTES), (n.name = r.string()));
    else if (f === 4) (expectWire(w, BYTES), (n.opType = r.string()), (typed = true));
    else if (f === 7) (expectWire(w, BYTES), (n.domain = r.string()));
    else if (f === 5) (expectWire(w, BYTES), n.attribute.push(attribute(r.sub())));
    else return false;
    return true;
  });
  if (!typed) delete (n as Partial<NodeMsg>).opType;
  return n;
}

function dimension(r: WireReader): DimMsg {
  const d: DimMsg = {};
  r.fields((f, w) => {
    // A oneof: the last member on the wire wins.
    if (f === 1) (expectWire(w, VARINT), (d.dimValue = r.varint()), delete d.dimParam);
    else if (f === 2) (expectWire(w, BYTES), (d.dimParam = r.string()), delete d.dimValue);
    else return false;
    return true;
  });
  return d;
}

function valueInfo(r: WireReader): ValueInfoMsg {
  const v: ValueInfoMsg = { name: '' };
  let named = false;
  r.fields((f, w) => {
    if (f === 1) (expectWire(w, BYTES), (v.name = r.string()), (named = true));
    else if (f === 2) {
      expectWire(w, BYTES);
      const type: NonNullable<ValueInfoMsg['type']> = {};
      const tr = r.sub();
      tr.fields((tf, tw) => {
        if (tf !== 1) return false;
        expectWire(tw, BYTES);
        const tensorType: NonNullable<typeof type.tensorType> = {};
        const ttr = tr.sub();
        ttr.fields((ef, ew) => {
          if (ef === 1) (expectWire(ew, VARINT), (tensorType.elemType = ttr.int32()));
          else if (ef === 2) {
            expectWire(ew, BYTES);
            const dim: DimMsg[] = [];
            const sr = ttr.sub();
            sr.fields((sf, sw) => {
              if (sf !== 1) return false;
              expectWire(sw, BYTES);
              dim.push(dimension(sr.sub()));
              return true;
            });
            tensorType.shape = { dim };
          } else return false;
          return true;
        });
        type.tensorType = tensorType;
        return true;
      });
      v.type = type;
    } else return false;
    return true;
  });
  if (!named) delete (v as Partial<ValueInfoMsg>).name;
  return v;
}

function graph(r: WireReader): GraphMsg {
  const g: GraphMsg & { node: NodeMsg[]; initializer: TensorMsg[]; input: ValueInfoMsg[]; output: ValueInfoMsg[]; valueInfo: ValueInfoMsg[] } = {
    node: [],
    initializer: [],
    input: [],
    output: [],
    valueInfo: [],
  };
  r.fields((f, w) => {
    if (f === 1) (expectWire(w, BYTES), g.node.push(node(r.sub())));
    else if (f === 2) (expectWire(w, BYTES), (g.name = r.string()));
    else if (f === 5) (expectWire(w, BYTES), g.initializer.push(tensor(r.sub())));
    else if (f === 11) (expectWire(w, BYTES), g.input.push(valueInfo(r.sub())));
    else if (f === 12) (expectWire(w, BYTES), g.output.push(valueInfo(r.sub())));
    else if (f === 13) (expectWire(w, BYTES), g.valueInfo.push(valueInfo(r.sub())));
    else return false;
    return true;
  });
  return g;
}

/** Parse ModelProto bytes (see the file comment for the object's shape); throws Error on malformed input. */
export function decodeModelWire(bytes: Uint8Array): ModelMsg {
  const r = new WireReader(bytes);
  const m: ModelMsg & { opsetImport: { domain?: string; version?: number }[]; metadataProps: { key?: string; value?: string }[] } = { opsetImport: [], metadataProps: [] };
  r.fields((f, w) => {
    if (f === 1) (expectWire(w, VARINT), (m.irVersion = r.varint()));
    else if (f === 8) {
      expectWire(w, BYTES);
      const o: { domain?: string; version?: number } = {};
      const or = r.sub();
      or.fields((of, ow) => {
        if (of === 1) (expectWire(ow, BYTES), (o.domain = or.string()));
        else if (of === 2) (expectWire(ow, VARINT), (o.version = or.varint()));
        else return false;
        return true;
      });
      m.opsetImport.push(o);
    } else if (f === 2) (expectWire(w, BYTES), (m.producerName = r.string()));
    else if (f === 3) (expectWire(w, BYTES), (m.producerVersion = r.string()));
    else if (f === 6) (expectWire(w, BYTES), (m.docString = r.string()));
    else if (f === 7) (expectWire(w, BYTES), (m.graph = graph(r.sub())));
    else if (f === 14) {
      expectWire(w, BYTES);
      const e: { key?: string; value?: string } = {};
      const er = r.sub();
      er.fields((ef, ew) => {
        if (ef === 1) (expectWire(ew, BYTES), (e.key = er.string()));
        else if (ef === 2) (expectWire(ew, BYTES), (e.value = er.string()));
        else return false;
        return true;
      });
      m.metadataProps.push(e);
    } else return false;
    return true;
  });
  return m;
}
