/**
 * PyTorch state_dicts of ResNet ReID models (torchvision, torchreid, fast-reid,
 * reid-strong-baseline) to the lab's spec + arrays, and back.
 *
 * Keys: `module.` (DataParallel), `backbone.` (fast-reid) and `base.` (reid-strong-baseline)
 * prefixes are stripped; the BNNeck `heads.bottleneck.0.*` / `bottleneck.*` becomes `bnneck.*`;
 * the ID classifier `fc.*` / `classifier.*` / `heads.classifier.*` becomes `classifier.*`;
 * `num_batches_tracked` and fast-reid's `pixel_mean`/`pixel_std` buffers are ignored.
 *
 * Layouts: PyTorch conv weights are [out, in, kh, kw] and become the lab's (tfjs) [kh, kw, in,
 * out] by the permutation (2, 3, 1, 0); linear weights [out, in] are transposed to [in, out].
 *
 * The spec is inferred from the tensors: depth from the number of blocks per stage and their
 * kind (conv3 present: bottleneck), every channel count from the weight shapes, so pruned
 * checkpoints load as themselves. What weights cannot tell (input size, last stride) comes from
 * the options, then the file's metadata, then the ReID defaults (128x64, last stride 1).
 */
import { LabError } from '../errors';
import { SPEC_FORMAT, SpecError, validateSpec, type BlockSpec, type Depth, type ResNetSpec } from './spec';
import { listParams, type ParamInfo } from './names';
import type { ParamArrays } from './init';
import type { ExternalLineage } from './lineage';

/** One tensor in PyTorch layout. */
export interface StateTensor {
  shape: number[];
  values: Float32Array;
}
export type StateDict = Map<string, StateTensor>;

export interface StateDictImportOptions {
  lastStride?: 1 | 2;
  inputHeight?: number;
  inputWidth?: number;
  widthMultiplier?: number;
  /** Leave out the ID classifier (e.g. when fine-tuning on other identities). */
  dropClassifier?: boolean;
  /** String metadata that came with the tensors (safetensors __metadata__). */
  metadata?: Record<string, string>;
}

export interface StateDictImport {
  spec: ResNetSpec;
  /** Parameters in the lab's layout, keyed by the lab's names. */
  arrays: ParamArrays;
  /** What was ignored or filled in, as sentences for the UI. */
  notes: string[];
  /** Where the file says the model came from (safetensors written by the PyTorch companion). */
  lineage?: ExternalLineage;
  /**
   * What neither the caller nor the file stated, so the ReID default was used; a caller can ask
   * the user and import again with the option set (the last stride cannot be read off tensors).
   */
  assumed: { input?: { height: number; width: number }; lastStride?: 1 | 2 };
}

/** Metadata key under which the lab stores its full spec in exported files. */
export const SPEC_METADATA_KEY = 'prunability-lab.spec';

const PREFIXES = ['module.', 'backbone.', 'base.'];
const IGNORED_BUFFERS = new Set(['pixel_mean', 'pixel_std']);

/** The lab's name for a PyTorch key, or null when the key carries nothing the lab uses. */
export function canonicalKey(key: string): string | null {
  let k = key;
  for (let changed = true; changed; ) {
    changed = false;
    for (const p of PREFIXES) {
      if (k.startsWith(p)) {
        k = k.slice(p.length);
        changed = true;
      }
    }
  }
  if (k.endsWith('num_batches_tracked') || IGNORED_BUFFERS.has(k)) return null;
  const rename: [string, string][] = [
    ['heads.bottleneck.0.', 'bnneck.'],
    ['bottleneck.', 'bnneck.'],
    ['heads.classifier.', 'classifier.'],
    ['fc.', 'classifier.'],
  ];
  for (const [from, to] of rename) if (k.startsWith(from)) return to + k.slice(from.length);
  return k;
}

const numel = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);
const fmt = (shape: readonly number[]) => `[${shape.join(', ')}]`;

/** A parameter's shape in PyTorch layout, from its shape in the lab's layout. */
export function torchShape(info: ParamInfo): number[] {
  const s = info.shape;
  if (info.role === 'conv') return [s[3], s[2], s[0], s[1]];
  if (info.role === 'linear.weight') return [s[1], s[0]];
  return [...s];
}

/** [out, in, kh, kw] -> [kh, kw, in, out]: permutation (2, 3, 1, 0). */
export function convFromTorch(v: Float32Array, [O, I, KH, KW]: number[]): Float32Array {
  const out = new Float32Array(v.length);
  for (let o = 0; o < O; o++)
    for (let i = 0; i < I; i++)
      for (let h = 0; h < KH; h++)
        for (let w = 0; w < KW; w++) out[((h * KW + w) * I + i) * O + o] = v[((o * I + i) * KH + h) * KW + w];
  return out;
}

/** [kh, kw, in, out] -> [out, in, kh, kw]. */
export function convToTorch(v: Float32Array, [KH, KW, I, O]: number[]): Float32Array {
  const out = new Float32Array(v.length);
  for (let h = 0; h < KH; h++)
    for (let w = 0; w < KW; w++)
      for (let i = 0; i < I; i++)
        for (let o = 0; o < O; o++) out[((o * I + i) * KH + h) * KW + w] = v[((h * KW + w) * I + i) * O + o];
  return out;
}

/** Transpose a row-major [rows, cols] matrix. */
export function transpose2d(v: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(v.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = v[r * cols + c];
  return out;
}

const DEPTHS: { depth: Depth; bottleneck: boolean; blocks: number[] }[] = [
  { depth: 18, bottleneck: false, blocks: [2, 2, 2, 2] },
  { depth: 34, bottleneck: false, blocks: [3, 4, 6, 3] },
  { depth: 50, bottleneck: true, blocks: [3, 4, 6, 3] },
];

function bad(message: string, detail?: Record<string, unknown>): never {
  throw new LabError('bad-weights', message, detail);
}

function positiveInt(v: unknown): number | undefined {
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
  return typeof n === 'number' && Number.isInteger(n) && n > 0 ? n : undefined;
}

/** What the file's metadata says about what the tensors cannot tell. */
interface MetadataFacts {
  h?: number;
  w?: number;
  lastStride?: 1 | 2;
  width?: number;
}

function badMetadata(key: string, value: unknown, want: string): never {
  const shown = typeof value === 'string' ? JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value) : JSON.stringify(value) ?? 'nothing';
  throw new LabError(
    'bad-model-file',
    `The file's metadata "${key}" is ${shown}; expected ${want}. It cannot say the model's input size or last stride, and the lab will not guess them: fix or remove that metadata, or give the values when opening the file.`,
    { key },
  );
}

/**
 * Input size, last stride and width from the lab's spec metadata or common key names. A value
 * that is present but unreadable (not JSON, negative, not 1 or 2) is an error, never a silent
 * default; fields the caller sets explicitly (`given`) are not read.
 */
function fromMetadata(meta: Record<string, string> | undefined, given: { size: boolean; lastStride: boolean }): MetadataFacts {
  if (!meta) return {};
  const out: MetadataFacts = {};
  const labSpec = meta[SPEC_METADATA_KEY];
  if (labSpec !== undefined) {
    let s: Partial<ResNetSpec>;
    try {
      s = JSON.parse(labSpec) as Partial<ResNetSpec>;
    } catch {
      badMetadata(SPEC_METADATA_KEY, labSpec, 'the JSON of a lab spec');
    }
    if (typeof s !== 'object' || s === null) badMetadata(SPEC_METADATA_KEY, labSpec, 'the JSON of a lab spec');
    if (!given.size && s.input !== undefined) {
      out.h = positiveInt(s.input?.height);
      out.w = positiveInt(s.input?.width);
      if (out.h === undefined || out.w === undefined) badMetadata(`${SPEC_METADATA_KEY}.input`, s.input, 'a height and width in whole pixels');
    }
    if (!given.lastStride && s.lastStride !== undefined) {
      if (s.lastStride !== 1 && s.lastStride !== 2) badMetadata(`${SPEC_METADATA_KEY}.lastStride`, s.lastStride, '1 or 2');
      out.lastStride = s.lastStride;
    }
    if (typeof s.widthMultiplier === 'number' && s.widthMultiplier > 0) out.width = s.widthMultiplier;
  }
  if (!given.size) {
    for (const [key, side] of [['input_height', 'h'], ['input_width', 'w']] as const) {
      if (meta[key] === undefined || out[side] !== undefined) continue;
      out[side] = positiveInt(meta[key]);
      if (out[side] === undefined) badMetadata(key, meta[key], 'a whole number of pixels');
    }
    if (meta.input_size !== undefined && (out.h === undefined || out.w === undefined)) {
      const size = /^\D*(\d+)\D+(\d+)\D*$/.exec(meta.input_size);
      const h = positiveInt(size?.[1]);
      const w = positiveInt(size?.[2]);
      if (h === undefined || w === undefined) badMetadata('input_size', meta.input_size, 'a size such as "256x128" (height x width)');
      out.h ??= h;
      out.w ??= w;
    }
  }
  if (!given.lastStride && out.lastStride === undefined && meta.last_stride !== undefined) {
    const ls = positiveInt(meta.last_stride);
    if (ls !== 1 && ls !== 2) badMetadata('last_stride', meta.last_stride, '1 or 2');
    out.lastStride = ls;
  }
  return out;
}

/** The ReID defaults for what neither the options nor the file state. */
export const DEFAULT_INPUT = { height: 128, width: 64 } as const;
export const DEFAULT_LAST_STRIDE = 1;

/** Infer the spec from canonical-keyed PyTorch shapes. */
export function inferSpec(shapes: ReadonlyMap<string, number[]>, opts: StateDictImportOptions = {}): ResNetSpec {
  const shapeOf = (name: string, rank: number): number[] => {
    const s = shapes.get(name);
    if (!s) bad(`The checkpoint has no ${name}; a ResNet needs it.`, { tensor: name, found: 'missing' });
    if (s.length !== rank) bad(`${name} has shape ${fmt(s)}; expected a ${rank}-D tensor.`, { tensor: name, found: s });
    return s;
  };
  const stem = shapeOf('conv1.weight', 4);
  if (stem[1] !== 3 || stem[2] !== 7 || stem[3] !== 7) {
    bad(`conv1.weight has shape ${fmt(stem)}; a ResNet stem is [C, 3, 7, 7].`, { tensor: 'conv1.weight', expected: [stem[0], 3, 7, 7], found: stem });
  }

  // Blocks per stage, from the keys present.
  const counts = [0, 0, 0, 0];
  let bottleneck = false;
  for (const k of shapes.keys()) {
    const m = /^layer([1-4])\.(\d+)\.(conv\d)\./.exec(k);
    if (!m) continue;
    const s = Number(m[1]) - 1;
    counts[s] = Math.max(counts[s], Number(m[2]) + 1);
    if (m[3] === 'conv3') bottleneck = true;
  }
  const arch = DEPTHS.find((d) => d.bottleneck === bottleneck && d.blocks.every((n, i) => n === counts[i]));
  if (!arch) {
    const kind = bottleneck ? 'bottleneck' : 'basic';
    bad(
      `The checkpoint's stages hold [${counts.join(', ')}] ${kind} blocks; the lab supports ResNet-18 ([2, 2, 2, 2] basic), ResNet-34 ([3, 4, 6, 3] basic) and ResNet-50 ([3, 4, 6, 3] bottleneck).`,
      { found: counts },
    );
  }

  const meta = fromMetadata(opts.metadata, { size: opts.inputHeight !== undefined && opts.inputWidth !== undefined, lastStride: opts.lastStride !== undefined });
  const lastStride = opts.lastStride ?? meta.lastStride ?? DEFAULT_LAST_STRIDE;
  const stages: BlockSpec[][] = [];
  for (let s = 0; s < 4; s++) {
    const blocks: BlockSpec[] = [];
    for (let i = 0; i < counts[s]; i++) {
      const p = `layer${s + 1}.${i}`;
      const c1 = shapeOf(`${p}.conv1.weight`, 4);
      const c2 = shapeOf(`${p}.conv2.weight`, 4);
      const mid = bottleneck ? [c1[0], c2[0]] : [c1[0]];
      const last = bottleneck ? shapeOf(`${p}.conv3.weight`, 4) : c2;
      const stride = i === 0 && s > 0 ? (s === 3 ? lastStride : 2) : 1;
      blocks.push({ inC: c1[1], mid, outC: last[0], stride, downsample: shapes.has(`${p}.downsample.0.weight`) });
    }
    stages.push(blocks);
  }
  const classifier = opts.dropClassifier ? undefined : shapes.get('classifier.weight');
  const spec: ResNetSpec = {
    format: SPEC_FORMAT,
    depth: arch.depth,
    block: bottleneck ? 'bottleneck' : 'basic',
    widthMultiplier: opts.widthMultiplier ?? meta.width ?? Math.min(4, stem[0] / 64),
    input: { height: opts.inputHeight ?? meta.h ?? DEFAULT_INPUT.height, width: opts.inputWidth ?? meta.w ?? DEFAULT_INPUT.width },
    stemC: stem[0],
    stages,
    lastStride,
    head: { bnneck: shapes.has('bnneck.weight'), numClasses: classifier ? classifier[0] : 0 },
  };
  try {
    validateSpec(spec);
  } catch (e) {
    if (e instanceof SpecError) bad(`The checkpoint's layers do not fit together: ${e.message}`);
    throw e;
  }
  return spec;
}

interface Problem {
  tensor: string;
  expected: string;
  found: string;
}

/**
 * Map a PyTorch state_dict to the lab's spec and arrays. Every problem (missing, unexpected or
 * mis-shaped tensors) is collected and reported in one LabError('bad-weights').
 */
export function stateDictToModel(sd: StateDict, opts: StateDictImportOptions = {}): StateDictImport {
  const notes: string[] = [];
  const byName = new Map<string, { key: string; t: StateTensor }>();
  const ignored: string[] = [];
  for (const [key, t] of sd) {
    const name = canonicalKey(key);
    if (name === null) {
      if (!key.endsWith('num_batches_tracked')) ignored.push(key);
      continue;
    }
    if (opts.dropClassifier && name.startsWith('classifier.')) {
      ignored.push(key);
      continue;
    }
    const prev = byName.get(name);
    if (prev) bad(`The checkpoint holds both ${prev.key} and ${key}, which are the same tensor (${name}) for the lab.`, { tensor: name });
    if (t.values.length !== numel(t.shape)) bad(`${key} has ${t.values.length} values but shape ${fmt(t.shape)}.`, { tensor: key });
    byName.set(name, { key, t });
  }
  if (ignored.length > 0) notes.push(`Ignored: ${ignored.join(', ')}.`);

  const spec = inferSpec(new Map([...byName].map(([n, v]) => [n, v.t.shape])), opts);
  const facts = fromMetadata(opts.metadata, { size: opts.inputHeight !== undefined && opts.inputWidth !== undefined, lastStride: opts.lastStride !== undefined });
  const assumed: StateDictImport['assumed'] = {};
  if ((opts.inputHeight ?? facts.h) === undefined || (opts.inputWidth ?? facts.w) === undefined) {
    assumed.input = { ...spec.input };
    notes.push(`The file does not state the input size; assumed ${spec.input.height} x ${spec.input.width} (the usual ReID input). If the model was trained at another size, give it when opening the file.`);
  }
  if (opts.lastStride === undefined && facts.lastStride === undefined) {
    assumed.lastStride = spec.lastStride;
    notes.push(`The file does not state the last stride (the stride of layer4's first block, which the weights cannot show); assumed ${spec.lastStride}, the ReID convention. A torchvision-style model uses 2: give it when opening the file.`);
  }
  const expected = listParams(spec);
  const problems: Problem[] = [];
  const arrays: ParamArrays = new Map();
  for (const info of expected) {
    const want = torchShape(info);
    const got = byName.get(info.name);
    if (!got) {
      // fast-reid's classifier is a bias-free Linear: a zero bias computes the same logits.
      if (info.name === 'classifier.bias' && byName.has('classifier.weight')) {
        arrays.set(info.name, new Float32Array(numel(info.shape)));
        notes.push('The classifier has no bias in the checkpoint; it was set to zero.');
        continue;
      }
      problems.push({ tensor: info.name, expected: `shape ${fmt(want)}`, found: 'nothing (missing)' });
      continue;
    }
    const s = got.t.shape;
    if (s.length !== want.length || s.some((d, i) => d !== want[i])) {
      problems.push({ tensor: got.key, expected: `shape ${fmt(want)}`, found: `shape ${fmt(s)}` });
      continue;
    }
    const v = got.t.values;
    const nonFinite = v.findIndex((x) => !Number.isFinite(x));
    if (nonFinite >= 0) {
      problems.push({ tensor: got.key, expected: 'finite values', found: `NaN/Infinity at flat index ${nonFinite}` });
      continue;
    }
    const lab =
      info.role === 'conv' ? convFromTorch(v, want) : info.role === 'linear.weight' ? transpose2d(v, want[0], want[1]) : new Float32Array(v);
    arrays.set(info.name, lab);
  }
  const known = new Set(expected.map((p) => p.name));
  for (const [name, { key, t }] of byName) {
    if (!known.has(name)) problems.push({ tensor: key, expected: `no such tensor in a ResNet-${spec.depth}`, found: `an extra tensor of shape ${fmt(t.shape)}` });
  }
  if (problems.length > 0) {
    const shown = problems.slice(0, 6).map((p) => `${p.tensor}: expected ${p.expected}, found ${p.found}`);
    const more = problems.length > shown.length ? `; and ${problems.length - shown.length} more` : '';
    bad(`The checkpoint does not match a ResNet-${spec.depth}: ${shown.join('; ')}${more}.`, { problems });
  }
  return { spec, arrays, notes, assumed };
}

export type KeyStyle = 'lab' | 'fastreid';

/** The PyTorch key for a lab name in the given naming style. */
export function exportKey(name: string, style: KeyStyle): string {
  if (style === 'lab') return name;
  if (name.startsWith('bnneck.')) return 'heads.bottleneck.0.' + name.slice('bnneck.'.length);
  if (name.startsWith('classifier.')) return 'heads.' + name;
  return 'backbone.' + name;
}

/** The lab's arrays as a PyTorch state_dict (PyTorch layouts; names per `style`). */
export function modelToStateDict(spec: ResNetSpec, arrays: ParamArrays, style: KeyStyle = 'lab'): StateDict {
  const sd: StateDict = new Map();
  for (const info of listParams(spec)) {
    const v = arrays.get(info.name);
    if (!v || v.length !== numel(info.shape)) {
      throw new LabError('bad-argument', `Cannot export: ${info.name} should hold ${numel(info.shape)} values; found ${v ? v.length : 'none'}.`);
    }
    const shape = torchShape(info);
    const values = info.role === 'conv' ? convToTorch(v, info.shape) : info.role === 'linear.weight' ? transpose2d(v, info.shape[0], info.shape[1]) : new Float32Array(v);
    sd.set(exportKey(info.name, style), { shape, values });
  }
  return sd;
}
