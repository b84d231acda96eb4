/**
 * The safetensors container (https://github.com/huggingface/safetensors): an 8-byte
 * little-endian header length N, N bytes of JSON header
 *   { "__metadata__"?: {str: str}, name: { dtype, shape, data_offsets: [begin, end] }, ... }
 * (offsets relative to the byte buffer that follows the header), then the raw little-endian
 * tensor bytes. As in the reference implementation, offsets must tile the buffer exactly: no
 * overlaps, no holes, nothing out of range.
 *
 * Import: parse -> PyTorch state_dict -> the lab's spec and arrays (state-dict.ts).
 * Export: the lab's model -> PyTorch layout and names, so it loads with
 * `model.load_state_dict(safetensors.torch.load_file(path))`.
 */
import { LabError } from '../errors';
import type { ResNetSpec } from './spec';
import type { ParamArrays } from './init';
import { parseLineage } from './lineage';
import { decodeBfloat16, decodeFloat16, encodeFloat16, FLOAT16_MAX } from './float16';
import {
  SPEC_METADATA_KEY,
  modelToStateDict,
  stateDictToModel,
  type KeyStyle,
  type StateDict,
  type StateDictImport,
  type StateDictImportOptions,
} from './state-dict';

export const DTYPE_BYTES = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
} as const;
export type SafetensorsDtype = keyof typeof DTYPE_BYTES;

export interface SafetensorsTensor {
  dtype: SafetensorsDtype;
  shape: number[];
  /** The tensor's raw little-endian bytes (a copy, so it is aligned and independent). */
  bytes: Uint8Array;
}

export interface SafetensorsFile {
  tensors: Map<string, SafetensorsTensor>;
  metadata: Record<string, string>;
}

/** The reference implementation's limit on the header size. */
const MAX_HEADER_BYTES = 100_000_000;

// Typed-array views read the host's byte order; every browser and Node platform is little-endian.
const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function bad(message: string, detail?: Record<string, unknown>): never {
  throw new LabError('bad-safetensors', message, detail);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A header value for messages: JSON, or "nothing" when the field is missing. */
function show(v: unknown): string {
  if (v === undefined) return 'nothing';
  const j = JSON.stringify(v);
  return j.length > 60 ? `${j.slice(0, 57)}...` : j;
}

/** Parse and validate a .safetensors file. Throws LabError('bad-safetensors'). */
export function parseSafetensors(input: ArrayBuffer | Uint8Array): SafetensorsFile {
  if (!HOST_LITTLE_ENDIAN) bad('safetensors files can only be read on little-endian machines.');
  const bytes = input instanceof Uint8Array ? input : new Uint8Array(input);
  if (bytes.byteLength < 8) bad(`This is not a safetensors file: it has ${bytes.byteLength} bytes, fewer than the 8-byte header length.`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = view.getBigUint64(0, true);
  const available = bytes.byteLength - 8;
  if (n > BigInt(available)) bad(`The safetensors header claims ${n} bytes, but the file has only ${available} bytes after the length field.`, { expected: String(n), found: available });
  const headerLen = Number(n);
  if (headerLen > MAX_HEADER_BYTES) bad(`The safetensors header is ${headerLen} bytes; more than the ${MAX_HEADER_BYTES} allowed.`);
  if (headerLen < 2) bad(`The safetensors header is ${headerLen} bytes; too short to hold a JSON object.`);
  let header: unknown;
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLen));
    header = JSON.parse(text);
  } catch (e) {
    bad(`The safetensors header is not valid JSON: ${(e as Error).message}.`);
  }
  if (!isPlainObject(header)) bad('The safetensors header must be a JSON object.');

  const dataStart = 8 + headerLen;
  const dataLen = bytes.byteLength - dataStart;
  const metadata: Record<string, string> = {};
  const entries: { name: string; dtype: SafetensorsDtype; shape: number[]; begin: number; end: number }[] = [];
  for (const [name, raw] of Object.entries(header)) {
    if (name === '__metadata__') {
      if (!isPlainObject(raw)) bad('The safetensors __metadata__ must be an object of strings.');
      for (const [k, v] of Object.entries(raw)) {
        if (typeof v !== 'string') bad(`The safetensors __metadata__ value of "${k}" must be a string; found ${typeof v}.`);
        metadata[k] = v;
      }
      continue;
    }
    if (!isPlainObject(raw)) bad(`Tensor ${name}: its header entry must be an object with dtype, shape and data_offsets.`, { tensor: name });
    const dtype = raw.dtype;
    if (typeof dtype !== 'string' || !(dtype in DTYPE_BYTES)) {
      bad(`Tensor ${name} has dtype ${show(dtype)}; supported: ${Object.keys(DTYPE_BYTES).join(', ')}.`, { tensor: name, found: dtype });
    }
    const shape = raw.shape;
    if (!Array.isArray(shape) || shape.some((d) => !Number.isInteger(d) || (d as number) < 0)) {
      bad(`Tensor ${name} has shape ${show(shape)}; expected a list of non-negative integers.`, { tensor: name });
    }
    const offs = raw.data_offsets;
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((o) => Number.isSafeInteger(o) && (o as number) >= 0) || offs[0] > offs[1]) {
      bad(`Tensor ${name} has data_offsets ${show(offs)}; expected [begin, end] with 0 <= begin <= end.`, { tensor: name });
    }
    const [begin, end] = offs as number[];
    if (end > dataLen) bad(`Tensor ${name} ends at byte ${end}, beyond the ${dataLen} data bytes in the file (truncated?).`, { tensor: name, expected: end, found: dataLen });
    const need = (shape as number[]).reduce((a, b) => a * b, 1) * DTYPE_BYTES[dtype as SafetensorsDtype];
    if (end - begin !== need) {
      bad(`Tensor ${name} (${dtype}, shape [${(shape as number[]).join(', ')}]) needs ${need} bytes; its data_offsets span ${end - begin}.`, {
        tensor: name,
        expected: need,
        found: end - begin,
      });
    }
    entries.push({ name, dtype: dtype as SafetensorsDtype, shape: shape as number[], begin, end });
  }
  // Offsets must tile the data buffer: sorted, each starting where the previous one ended.
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let pos = 0;
  let prev: string | undefined;
  for (const e of sorted) {
    if (e.begin < pos) bad(`Tensors ${prev} and ${e.name} overlap in the file (byte ${e.begin} < ${pos}).`, { tensor: e.name });
    if (e.begin > pos) bad(`The safetensors data has a gap of ${e.begin - pos} unused bytes before tensor ${e.name}.`, { tensor: e.name });
    pos = e.end;
    prev = e.name;
  }
  if (pos !== dataLen) bad(`The safetensors file has ${dataLen - pos} bytes after its last tensor; its offsets cover ${pos} of ${dataLen}.`);

  const tensors = new Map<string, SafetensorsTensor>();
  // Uint8Array's own slice: a Node Buffer's slice() would return a view, not the promised copy.
  for (const e of entries) tensors.set(e.name, { dtype: e.dtype, shape: e.shape, bytes: Uint8Array.prototype.slice.call(bytes, dataStart + e.begin, dataStart + e.end) });
  return { tensors, metadata };
}

/** A tensor's values as float32 (floats converted, integers cast). */
export function tensorToFloat32(t: SafetensorsTensor): Float32Array {
  const b = t.bytes.buffer.slice(t.bytes.byteOffset, t.bytes.byteOffset + t.bytes.byteLength) as ArrayBuffer;
  switch (t.dtype) {
    case 'F32':
      return new Float32Array(b);
    case 'F64':
      return Float32Array.from(new Float64Array(b));
    case 'F16':
      return decodeFloat16(new Uint16Array(b));
    case 'BF16':
      return decodeBfloat16(new Uint16Array(b));
    case 'I64':
      return Float32Array.from(new BigInt64Array(b), (v) => Number(v));
    case 'I32':
      return Float32Array.from(new Int32Array(b));
    case 'I16':
      return Float32Array.from(new Int16Array(b));
    case 'I8':
      return Float32Array.from(new Int8Array(b));
    case 'U8':
    case 'BOOL':
      return Float32Array.from(new Uint8Array(b));
  }
}

export interface RawTensor {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  bytes: Uint8Array;
}

/** Serialise tensors (in the given order) and string metadata as a safetensors file. */
export function writeSafetensors(tensors: RawTensor[], metadata?: Record<string, string>): Uint8Array {
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let off = 0;
  for (const t of tensors) {
    const need = t.shape.reduce((a, b) => a * b, 1) * DTYPE_BYTES[t.dtype];
    if (need !== t.bytes.byteLength) throw new LabError('bad-argument', `Tensor ${t.name} needs ${need} bytes for its shape; got ${t.bytes.byteLength}.`);
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [off, off + need] };
    off += need;
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  // Pad the header with spaces so the data starts 8-byte aligned, as the reference writer does.
  const pad = (8 - ((8 + json.byteLength) % 8)) % 8;
  if (pad > 0) {
    const padded = new Uint8Array(json.byteLength + pad).fill(0x20);
    padded.set(json);
    json = padded;
  }
  const out = new Uint8Array(8 + json.byteLength + off);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.byteLength), true);
  out.set(json, 8);
  let pos = 8 + json.byteLength;
  for (const t of tensors) {
    out.set(t.bytes, pos);
    pos += t.bytes.byteLength;
  }
  return out;
}

/** Decode every tensor of a parsed file to float32, in PyTorch layout. */
export function toStateDict(file: SafetensorsFile): StateDict {
  const sd: StateDict = new Map();
  for (const [name, t] of file.tensors) sd.set(name, { shape: t.shape, values: tensorToFloat32(t) });
  return sd;
}

/** Import a .safetensors PyTorch checkpoint of a ResNet (ReID) model. */
export function safetensorsToModel(input: ArrayBuffer | Uint8Array, opts: StateDictImportOptions = {}): StateDictImport {
  const file = parseSafetensors(input);
  const nonFloat = [...file.tensors].filter(([name, t]) => !t.dtype.startsWith('F') && !t.dtype.startsWith('BF') && !name.endsWith('num_batches_tracked'));
  if (nonFloat.length > 0) {
    const [name, t] = nonFloat[0];
    throw new LabError('bad-weights', `Tensor ${name} holds ${t.dtype} values; ResNet weights are floating point.`, { tensor: name, found: t.dtype });
  }
  const imported = stateDictToModel(toStateDict(file), { ...opts, metadata: { ...file.metadata, ...(opts.metadata ?? {}) } });
  const lineage = parseLineage(file.metadata);
  return lineage ? { ...imported, lineage } : imported;
}

export interface SafetensorsExportOptions {
  dtype?: 'F32' | 'F16';
  /** 'lab': torchreid-style names (bnneck.*, classifier.*); 'fastreid': backbone./heads. prefixes. */
  keyStyle?: KeyStyle;
}

/**
 * Export a model as safetensors in PyTorch layout and names. BatchNorm `num_batches_tracked`
 * counters are written as zero I64 scalars so strict `load_state_dict` finds every key; the spec
 * goes in the metadata so re-importing restores input size and last stride too.
 */
export function modelToSafetensors(spec: ResNetSpec, arrays: ParamArrays, opts: SafetensorsExportOptions = {}): Uint8Array {
  const dtype = opts.dtype ?? 'F32';
  const style = opts.keyStyle ?? 'lab';
  const sd = modelToStateDict(spec, arrays, style);
  const tensors: RawTensor[] = [];
  for (const [name, t] of sd) {
    let bytes: Uint8Array;
    if (dtype === 'F16') {
      const big = t.values.find((v) => Math.abs(v) > FLOAT16_MAX);
      if (big !== undefined) throw new LabError('bad-argument', `${name} holds ${big}, beyond float16's range; export as F32.`, { tensor: name });
      const h = encodeFloat16(t.values);
      bytes = new Uint8Array(h.buffer);
    } else {
      bytes = new Uint8Array(t.values.buffer, t.values.byteOffset, t.values.byteLength);
    }
    tensors.push({ name, dtype, shape: t.shape, bytes });
    if (name.endsWith('.running_var')) {
      const prefix = name.slice(0, -'.running_var'.length);
      tensors.push({ name: `${prefix}.num_batches_tracked`, dtype: 'I64', shape: [], bytes: new Uint8Array(8) });
    }
  }
  return writeSafetensors(tensors, { format: 'pt', [SPEC_METADATA_KEY]: JSON.stringify(spec) });
}
