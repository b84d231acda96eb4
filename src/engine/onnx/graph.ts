/**
 * A decoded ONNX graph indexed for pattern matching: constant tensors (initializers and
 * Constant nodes) as float arrays, which node produces and which nodes consume each value,
 * and typed attribute access. Import walks this index; nothing here knows about ResNets.
 */
import { LabError } from '../errors';
import { DataType, decodeModel, type AttributeMsg, type ModelMsg, type NodeMsg, type TensorMsg, type ValueInfoMsg } from './schema';

export interface ConstTensor {
  dims: number[];
  /** Values as float32 (int64 shapes and indices fit exactly below 2^24). */
  values: Float32Array;
}

export interface OnnxNode {
  /** Index in the graph's node list (topological order in valid files). */
  index: number;
  opType: string;
  name: string;
  inputs: string[];
  outputs: string[];
  attrs: Map<string, AttributeMsg>;
}

export interface OnnxGraph {
  model: ModelMsg;
  nodes: OnnxNode[];
  constants: Map<string, ConstTensor>;
  producer: Map<string, OnnxNode>;
  consumers: Map<string, OnnxNode[]>;
  /** Graph inputs that are not initializers (the real inputs). */
  inputs: ValueInfoMsg[];
  outputs: ValueInfoMsg[];
  metadata: Record<string, string>;
  opset: number;
}

function bad(message: string, detail?: Record<string, unknown>): never {
  throw new LabError('bad-onnx', message, detail);
}

const numel = (dims: readonly number[]) => dims.reduce((a, b) => a * b, 1);
/** The most values one tensor may hold: 2^26 (256 MB as float32); ResNet-50's largest has 2.4 M. */
export const MAX_TENSOR_VALUES = 2 ** 26;

/** Decode a TensorProto's values (float, double, int32, int64, float16) as float32. */
export function tensorValues(t: TensorMsg): ConstTensor {
  const dims = (t.dims ?? []).map(Number);
  const name = t.name || '(unnamed)';
  // Dims come straight from the file: check them before they size an allocation.
  const badDim = dims.find((d) => !Number.isSafeInteger(d) || d < 0);
  if (badDim !== undefined) {
    bad(`Tensor "${name}" has dims [${dims.join(', ')}]; every dim must be a whole number of at least 0 (found ${badDim}). The file is damaged or not a model the lab can read.`, { tensor: name });
  }
  const n = numel(dims);
  if (n > MAX_TENSOR_VALUES) {
    bad(`Tensor "${name}" has dims [${dims.join(', ')}], ${n} values; the lab reads tensors of at most ${MAX_TENSOR_VALUES} values (a ResNet's largest has a few million). The file is damaged or not a ReID ResNet.`, { tensor: name });
  }
  if (t.dataLocation === 1) {
    bad(`The ONNX file keeps tensor "${name}" in an external data file; export the model with its weights inside the .onnx file (save_as_external_data=False).`, { tensor: name });
  }
  const type = t.dataType ?? 0;
  const raw = t.rawData && t.rawData.length > 0 ? t.rawData : undefined;
  // The data must be there before the values are allocated.
  const stored = raw ? raw.length : ((type === DataType.DOUBLE ? t.doubleData : type === DataType.INT64 ? t.int64Data : type === DataType.FLOAT ? t.floatData : t.int32Data) ?? []).length;
  const sizes: Record<number, number> = { [DataType.FLOAT]: 4, [DataType.DOUBLE]: 8, [DataType.INT32]: 4, [DataType.INT64]: 8, [DataType.FLOAT16]: 2 };
  const elementBytes = raw ? sizes[type] : 1;
  if (elementBytes !== undefined && stored !== n * elementBytes) {
    bad(`Tensor "${name}" of shape [${dims.join(', ')}] holds ${raw ? `${stored} bytes` : `${stored} values`} of data; its dims need ${raw ? `${n * elementBytes} bytes` : `${n} values`}.`, { tensor: name });
  }
  const out = new Float32Array(n);
  const view = raw ? new DataView(raw.buffer, raw.byteOffset, raw.byteLength) : undefined;
  const expectBytes = (size: number) => {
    if (view && view.byteLength !== n * size) bad(`Tensor "${name}" of shape [${dims.join(', ')}] has ${view.byteLength} bytes of data; expected ${n * size}.`, { tensor: name });
  };
  const fromList = (list: number[] | undefined) => {
    const l = list ?? [];
    if (l.length !== n) bad(`Tensor "${name}" of shape [${dims.join(', ')}] holds ${l.length} values; expected ${n}.`, { tensor: name });
    for (let i = 0; i < n; i++) out[i] = Number(l[i]);
  };
  switch (type) {
    case DataType.FLOAT:
      if (view) {
        expectBytes(4);
        for (let i = 0; i < n; i++) out[i] = view.getFloat32(i * 4, true);
      } else fromList(t.floatData);
      break;
    case DataType.DOUBLE:
      if (view) {
        expectBytes(8);
        for (let i = 0; i < n; i++) out[i] = view.getFloat64(i * 8, true);
      } else fromList(t.doubleData);
      break;
    case DataType.INT32:
      if (view) {
        expectBytes(4);
        for (let i = 0; i < n; i++) out[i] = view.getInt32(i * 4, true);
      } else fromList(t.int32Data);
      break;
    case DataType.INT64:
      if (view) {
        expectBytes(8);
        for (let i = 0; i < n; i++) out[i] = Number(view.getBigInt64(i * 8, true));
      } else fromList(t.int64Data);
      break;
    case DataType.FLOAT16:
      if (view) {
        expectBytes(2);
        for (let i = 0; i < n; i++) out[i] = halfToFloat(view.getUint16(i * 2, true));
      } else {
        // float16 values travel as their bit patterns in int32_data.
        const l = t.int32Data ?? [];
        if (l.length !== n) bad(`Tensor "${name}" holds ${l.length} values; expected ${n}.`, { tensor: name });
        for (let i = 0; i < n; i++) out[i] = halfToFloat(l[i]);
      }
      break;
    default:
      bad(`Tensor "${name}" has ONNX data type ${type}; the lab reads float32, float16, float64, int32 and int64 tensors.`, { tensor: name, dataType: type });
  }
  return { dims, values: out };
}

function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f ? NaN : s * Infinity;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}

/** Parse ONNX bytes and index the main graph. */
export function readOnnxGraph(bytes: Uint8Array): OnnxGraph {
  let model: ModelMsg;
  try {
    model = decodeModel(bytes);
  } catch (e) {
    bad(`This file is not a readable ONNX model (protobuf decoding failed: ${(e as Error).message}).`);
  }
  const g = model.graph;
  if (!g || !g.node || g.node.length === 0) bad('This file has no ONNX graph (or an empty one); expected an ONNX model exported from PyTorch or by the lab.');
  const constants = new Map<string, ConstTensor>();
  for (const t of g.initializer ?? []) if (t.name) constants.set(t.name, tensorValues(t));
  const nodes: OnnxNode[] = g.node.map((n: NodeMsg, index) => ({
    index,
    opType: n.opType ?? '',
    name: n.name || `#${index} ${n.opType}`,
    inputs: n.input ?? [],
    outputs: n.output ?? [],
    attrs: new Map((n.attribute ?? []).map((a) => [a.name, a])),
  }));
  const producer = new Map<string, OnnxNode>();
  const consumers = new Map<string, OnnxNode[]>();
  for (const n of nodes) {
    if (n.opType === 'Constant') {
      const t = n.attrs.get('value')?.t;
      const fv = n.attrs.get('value_float')?.f;
      const fvs = n.attrs.get('value_floats')?.floats;
      const iv = n.attrs.get('value_int')?.i;
      const ivs = n.attrs.get('value_ints')?.ints;
      let c: ConstTensor | undefined;
      if (t) c = tensorValues(t);
      else if (fv !== undefined) c = { dims: [], values: Float32Array.of(fv) };
      else if (iv !== undefined) c = { dims: [], values: Float32Array.of(Number(iv)) };
      else if (fvs) c = { dims: [fvs.length], values: Float32Array.from(fvs) };
      else if (ivs) c = { dims: [ivs.length], values: Float32Array.from(ivs.map(Number)) };
      if (c && n.outputs[0]) constants.set(n.outputs[0], c);
    }
    for (const o of n.outputs) producer.set(o, n);
    for (const i of n.inputs) {
      if (!i) continue;
      const list = consumers.get(i) ?? [];
      list.push(n);
      consumers.set(i, list);
    }
  }
  checkAcyclic(nodes, producer);
  const inputs = (g.input ?? []).filter((v) => !constants.has(v.name));
  const metadata: Record<string, string> = {};
  for (const p of model.metadataProps ?? []) if (p.key) metadata[p.key] = p.value ?? '';
  const opset = (model.opsetImport ?? []).find((o) => !o.domain || o.domain === 'ai.onnx')?.version ?? 0;
  return { model, nodes, constants, producer, consumers, inputs, outputs: g.output ?? [], metadata, opset: Number(opset) };
}

/**
 * An ONNX graph is a DAG: a node whose output feeds back into its own inputs (directly or
 * through others) would make the importer's walk go round forever. Kahn's algorithm: whatever
 * cannot be ordered lies on a cycle. A value written by two nodes is refused as well.
 */
function checkAcyclic(nodes: readonly OnnxNode[], producer: ReadonlyMap<string, OnnxNode>): void {
  const seen = new Map<string, OnnxNode>();
  for (const n of nodes) {
    for (const o of n.outputs) {
      if (!o) continue;
      const first = seen.get(o);
      if (first && first !== n) bad(`The ONNX graph is malformed: value "${o}" is produced by two nodes, "${first.name}" and "${n.name}".`, { node: n.name });
      seen.set(o, n);
    }
  }
  const waiting = new Map<OnnxNode, number>();
  const dependents = new Map<OnnxNode, OnnxNode[]>();
  for (const n of nodes) {
    const deps = new Set(n.inputs.filter(Boolean).map((i) => producer.get(i)).filter((p): p is OnnxNode => p !== undefined));
    waiting.set(n, deps.size);
    for (const d of deps) dependents.set(d, [...(dependents.get(d) ?? []), n]);
  }
  const ready = nodes.filter((n) => waiting.get(n) === 0);
  let ordered = 0;
  while (ready.length > 0) {
    const n = ready.pop()!;
    ordered++;
    for (const m of dependents.get(n) ?? []) {
      const left = waiting.get(m)! - 1;
      waiting.set(m, left);
      if (left === 0) ready.push(m);
    }
  }
  if (ordered < nodes.length) {
    const onCycle = nodes.filter((n) => waiting.get(n)! > 0);
    bad(
      `The ONNX graph has a cycle: ${onCycle.length} node(s), e.g. ${onCycle.slice(0, 3).map((n) => `"${n.name}" (${n.opType})`).join(', ')}, depend on their own outputs. A model graph must run from its input to its outputs without loops; re-export the model.`,
      { node: onCycle[0].name },
    );
  }
}

/** Static dims of a value (null for symbolic or unknown dims), or undefined when no shape is given. */
export function valueDims(v: ValueInfoMsg): (number | null)[] | undefined {
  const dims = v.type?.tensorType?.shape?.dim;
  if (!dims) return undefined;
  return dims.map((d) => (d.dimValue !== undefined && Number(d.dimValue) > 0 ? Number(d.dimValue) : null));
}

// ---- Attributes -------------------------------------------------------------------------

export function attrInts(n: OnnxNode, name: string): number[] | undefined {
  const a = n.attrs.get(name);
  return a?.ints ? a.ints.map(Number) : undefined;
}

export function attrInt(n: OnnxNode, name: string): number | undefined {
  const a = n.attrs.get(name);
  return a?.i !== undefined ? Number(a.i) : undefined;
}

export function attrFloat(n: OnnxNode, name: string): number | undefined {
  return n.attrs.get(name)?.f;
}

export function attrString(n: OnnxNode, name: string): string | undefined {
  const s = n.attrs.get(name)?.s;
  return s ? new TextDecoder().decode(s) : undefined;
}
