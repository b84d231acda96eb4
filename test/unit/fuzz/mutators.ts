/**
 * Seeded input mutators for the fuzz tests: bytes (bit flips, truncation, extension, splices,
 * "interesting" integers), JSON documents (deleted / duplicated keys, wrong types, shape edits,
 * NaN / huge numbers, truncated text) and ReID file names (random strings and near misses).
 * Every mutator draws from the engine's Prng, so a failing case is reproduced by its seed.
 */
import { Prng } from '../../../src/engine/util/prng';

export interface Mutant<T> {
  /** What was done, for failure messages and outcome tallies ("bit-flip", "truncate", ...). */
  op: string;
  value: T;
}

// ---- Bytes ------------------------------------------------------------------------------

/**
 * A real copy. Node's Buffer (what protobufjs's encoder returns in Node) is a Uint8Array whose
 * slice() is a VIEW, so `bytes.slice()` would mutate the caller's original.
 */
export function copyBytes(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(bytes);
}

/** Little-endian integers a parser is likely to mishandle. */
const INTERESTING_U32 = [0, 1, 0x7f, 0x80, 0xff, 0xffff, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff];

export type ByteOp = 'bit-flip' | 'byte-set' | 'truncate' | 'extend' | 'delete-range' | 'duplicate-range' | 'zero-range' | 'interesting-u32' | 'random-bytes';
export const BYTE_OPS: readonly ByteOp[] = ['bit-flip', 'byte-set', 'truncate', 'extend', 'delete-range', 'duplicate-range', 'zero-range', 'interesting-u32', 'random-bytes'];

/** Flip `n` random bits; also returns the flipped bit positions (byte * 8 + bit). */
export function flipBits(bytes: Uint8Array, rng: Prng, n = 1, range?: [number, number]): { out: Uint8Array; bits: number[] } {
  const out = copyBytes(bytes);
  const [lo, hi] = range ?? [0, out.length];
  const bits: number[] = [];
  for (let i = 0; i < n && hi > lo; i++) {
    const byte = rng.int(lo, hi - 1);
    const bit = rng.int(0, 7);
    out[byte] ^= 1 << bit;
    bits.push(byte * 8 + bit);
  }
  return { out, bits };
}

/** One byte-level mutation of the given kind (or a random kind). */
export function mutateBytes(input: Uint8Array, rng: Prng, op: ByteOp = rng.pick(BYTE_OPS), range?: [number, number]): Mutant<Uint8Array> {
  const bytes = copyBytes(input);
  const n = bytes.length;
  const [lo, hi] = range ?? [0, n];
  const pos = () => (hi > lo ? rng.int(lo, hi - 1) : 0);
  const span = () => Math.max(1, Math.min(n, Math.floor(Math.exp(rng.uniform(0, Math.log(Math.max(2, n)))))));
  switch (op) {
    case 'bit-flip':
      return { op, value: flipBits(bytes, rng, rng.int(1, 4), range).out };
    case 'byte-set': {
      const out = bytes.slice();
      for (let k = rng.int(1, 8); k > 0; k--) out[pos()] = rng.int(0, 255);
      return { op, value: out };
    }
    case 'truncate':
      return { op, value: bytes.slice(0, rng.bool(0.3) ? rng.int(0, Math.min(n, 64)) : pos()) };
    case 'extend': {
      const extra = new Uint8Array(rng.int(1, 4096)).map(() => (rng.bool(0.5) ? 0 : rng.int(0, 255)));
      const out = new Uint8Array(n + extra.length);
      out.set(bytes);
      out.set(extra, n);
      return { op, value: out };
    }
    case 'delete-range': {
      const a = pos();
      const b = Math.min(n, a + span());
      const out = new Uint8Array(n - (b - a));
      out.set(bytes.subarray(0, a));
      out.set(bytes.subarray(b), a);
      return { op, value: out };
    }
    case 'duplicate-range': {
      const a = pos();
      const len = Math.min(n - a, span());
      const at = pos();
      const out = new Uint8Array(n + len);
      out.set(bytes.subarray(0, at));
      out.set(bytes.subarray(a, a + len), at);
      out.set(bytes.subarray(at), at + len);
      return { op, value: out };
    }
    case 'zero-range': {
      const out = bytes.slice();
      const a = pos();
      out.fill(0, a, Math.min(n, a + span()));
      return { op, value: out };
    }
    case 'interesting-u32': {
      const out = bytes.slice();
      const at = Math.min(Math.max(0, pos() & ~3), Math.max(0, n - 4));
      const v = rng.pick(INTERESTING_U32);
      for (let k = 0; k < 4 && at + k < n; k++) out[at + k] = (v >>> (8 * k)) & 0xff;
      return { op, value: out };
    }
    case 'random-bytes':
      return { op, value: new Uint8Array(rng.int(0, 512)).map(() => rng.int(0, 255)) };
  }
}

// ---- JSON -------------------------------------------------------------------------------

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type PathStep = string | number;

/** Every path into a JSON value (the root is []). */
function paths(v: Json, prefix: PathStep[] = [], out: PathStep[][] = []): PathStep[][] {
  out.push(prefix);
  if (Array.isArray(v)) v.forEach((x, i) => paths(x, [...prefix, i], out));
  else if (v !== null && typeof v === 'object') for (const k of Object.keys(v)) paths(v[k], [...prefix, k], out);
  return out;
}

function getAt(v: Json, p: PathStep[]): Json {
  return p.reduce<Json>((x, k) => (x as Record<string | number, Json>)[k], v);
}

function setAt(root: Json, p: PathStep[], value: Json | undefined): Json {
  if (p.length === 0) return value ?? null;
  const parent = getAt(root, p.slice(0, -1)) as Record<string | number, Json> | Json[];
  const k = p[p.length - 1];
  if (value === undefined) {
    if (Array.isArray(parent)) parent.splice(k as number, 1);
    else delete (parent as Record<string, Json>)[k as string];
  } else (parent as Record<string | number, Json>)[k] = value;
  return root;
}

export type JsonOp =
  | 'delete-key'
  | 'duplicate-key'
  | 'wrong-type'
  | 'shape-edit'
  | 'number-edit'
  | 'nan-or-huge'
  | 'array-edit'
  | 'truncate-text'
  | 'string-edit';
export const JSON_OPS: readonly JsonOp[] = ['delete-key', 'duplicate-key', 'wrong-type', 'shape-edit', 'number-edit', 'nan-or-huge', 'array-edit', 'truncate-text', 'string-edit'];

const WRONG_TYPES: Json[] = [null, true, 0, -1, '', 'x', [], {}, [1, 2], { a: 1 }];
const NUMBER_EDITS = [(x: number) => x + 1, (x: number) => x - 1, (x: number) => -x, () => 0, (x: number) => x * 2, (x: number) => x / 2, (x: number) => x + 0.5, () => 2 ** 31, () => 2 ** 53 + 2, () => -(2 ** 31)];

/**
 * Mutate a JSON document (given as a parsed value) and return the mutated TEXT, since some
 * mutations (duplicate keys, NaN, truncation) only exist as text. `focus` restricts structural
 * edits to paths that start with it (e.g. ['weightsManifest']) for part of the cases.
 */
export function mutateJson(doc: unknown, rng: Prng, op: JsonOp = rng.pick(JSON_OPS), focus?: PathStep[]): Mutant<string> {
  const root = structuredClone(doc) as Json;
  const all = paths(root);
  const inFocus = focus ? all.filter((p) => focus.every((k, i) => p[i] === k)) : all;
  const pool = inFocus.length > 1 ? inFocus : all;
  const pickPath = (pred: (v: Json, p: PathStep[]) => boolean) => {
    const c = pool.filter((p) => pred(getAt(root, p), p));
    return c.length ? rng.pick(c) : undefined;
  };
  const text = (v: Json) => JSON.stringify(v);
  switch (op) {
    case 'delete-key': {
      const p = pickPath((_, p) => p.length > 0);
      return { op, value: text(p ? setAt(root, p, undefined) : root) };
    }
    case 'duplicate-key': {
      // JSON.parse keeps the LAST duplicate: insert a later copy of a key with another value.
      const p = pickPath((v, p) => p.length > 0 && typeof p[p.length - 1] === 'string');
      if (!p) return { op, value: text(root) };
      const parent = getAt(root, p.slice(0, -1)) as Record<string, Json>;
      const key = p[p.length - 1] as string;
      const inner = Object.entries(parent).map(([k, v]) => `${JSON.stringify(k)}:${text(v)}`);
      inner.push(`${JSON.stringify(key)}:${text(rng.bool(0.5) ? rng.pick(WRONG_TYPES) : structuredClone(parent[key]))}`);
      const marker = '"__fuzz_marker__"';
      const replaced = text(setAt(root, p.slice(0, -1), '__fuzz_marker__' as Json));
      return { op, value: replaced.replace(marker, `{${inner.join(',')}}`) };
    }
    case 'wrong-type': {
      const p = pickPath(() => true);
      return { op, value: text(setAt(root, p ?? [], structuredClone(rng.pick(WRONG_TYPES)))) };
    }
    case 'shape-edit': {
      const p = pickPath((v, p) => Array.isArray(v) && p.includes('shape')) ?? pickPath((v) => Array.isArray(v));
      if (!p) return { op, value: text(root) };
      const arr = getAt(root, p) as Json[];
      const e = rng.int(0, 4);
      if (e === 0) arr.push(rng.pick([1, 2, 0, 3]));
      else if (e === 1) arr.pop();
      else if (e === 2 && arr.length) arr[rng.int(0, arr.length - 1)] = rng.pick([0, -1, 1, 2 ** 31, 1e9, 0.5]);
      else if (e === 3) arr.reverse();
      else arr.splice(0, arr.length);
      return { op, value: text(root) };
    }
    case 'number-edit': {
      const p = pickPath((v) => typeof v === 'number');
      if (!p) return { op, value: text(root) };
      return { op, value: text(setAt(root, p, rng.pick(NUMBER_EDITS)(getAt(root, p) as number))) };
    }
    case 'nan-or-huge': {
      const p = pickPath((v) => typeof v === 'number');
      if (!p) return { op, value: text(root) };
      // JSON has no NaN; 1e309 parses to Infinity, -0 and 1e-320 are legal oddities.
      const token = rng.pick(['NaN', 'Infinity', '1e309', '-1e309', '1e300', '-0', '1e-320', '9007199254740993']);
      const marker = '"__fuzz_marker__"';
      return { op, value: text(setAt(root, p, '__fuzz_marker__')).replace(marker, token) };
    }
    case 'array-edit': {
      const p = pickPath((v) => Array.isArray(v) && v.length > 0);
      if (!p) return { op, value: text(root) };
      const arr = getAt(root, p) as Json[];
      const i = rng.int(0, arr.length - 1);
      const e = rng.int(0, 2);
      if (e === 0) arr.splice(i, 1);
      else if (e === 1) arr.splice(i, 0, structuredClone(arr[i]));
      else arr.splice(i, 0, ...arr.splice(rng.int(0, arr.length - 1), 1));
      return { op, value: text(root) };
    }
    case 'truncate-text': {
      const t = text(root);
      return { op, value: t.slice(0, rng.int(0, t.length - 1)) };
    }
    case 'string-edit': {
      const p = pickPath((v) => typeof v === 'string');
      if (!p) return { op, value: text(root) };
      const s = getAt(root, p) as string;
      const e = rng.int(0, 3);
      const v = e === 0 ? s.slice(0, -1) : e === 1 ? s + rng.pick(['x', '/', '.bin', '\u0000', '\u{1F600}']) : e === 2 ? s.toUpperCase() : '';
      return { op, value: text(setAt(root, p, v)) };
    }
  }
}

// ---- ReID file names --------------------------------------------------------------------

export type NameOp = 'random-string' | 'near-miss';

const CHARS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.cs /\\ \u00e9\u4e2d';

export function randomName(rng: Prng): string {
  const n = rng.int(0, 40);
  let s = '';
  for (let i = 0; i < n; i++) s += CHARS[rng.int(0, CHARS.length - 1)];
  return s;
}

/**
 * A near miss of a valid Market-1501 name, with the label a correct parser must give it:
 * `expect` is the (pid, camid) a lenient torchreid-style parser reads, or null when the name
 * must be rejected.
 */
export interface NearMiss {
  name: string;
  kind: string;
  expect: { pid: number; camid: number } | null;
  /** Whether the loader should treat it as an image by its extension. */
  image: boolean;
}

export function nearMissName(rng: Prng): NearMiss {
  const pid = rng.int(1, 1500);
  const cam = rng.int(1, 6);
  const p4 = String(pid).padStart(4, '0');
  const tail = `s${rng.int(1, 6)}_${String(rng.int(0, 999999)).padStart(6, '0')}_0${rng.int(1, 9)}`;
  const ok = { pid, camid: cam };
  const cases: (() => NearMiss)[] = [
    () => ({ name: `${p4}_c${cam}${tail}.jpeg`, kind: 'ext .jpeg', expect: ok, image: true }),
    () => ({ name: `${p4}_c${cam}${tail}.JPG`, kind: 'ext .JPG', expect: ok, image: true }),
    () => ({ name: `${p4}_c${cam}${tail}.png`, kind: 'ext .png', expect: ok, image: true }),
    () => ({ name: `${p4}_c${cam}${tail}.bmp`, kind: 'ext .bmp', expect: ok, image: false }),
    () => ({ name: `${p4}_c${cam}${tail}.jpg.txt`, kind: 'ext .jpg.txt', expect: ok, image: false }),
    () => ({ name: `-1_c${cam}${tail}.jpg`, kind: 'junk -1', expect: { pid: -1, camid: cam }, image: true }),
    () => ({ name: `0000_c${cam}${tail}.jpg`, kind: 'distractor 0000', expect: { pid: 0, camid: cam }, image: true }),
    () => ({ name: `99999_c${cam}${tail}.jpg`, kind: '5-digit pid', expect: { pid: 99999, camid: cam }, image: true }),
    () => ({ name: `${pid}_c${cam}${tail}.jpg`, kind: 'unpadded pid', expect: ok, image: true }),
    () => ({ name: `-2_c${cam}${tail}.jpg`, kind: 'pid -2', expect: null, image: true }),
    () => ({ name: `--1_c${cam}${tail}.jpg`, kind: 'pid --1', expect: null, image: true }),
    () => ({ name: `${p4}_c0${tail}.jpg`, kind: 'camera 0', expect: null, image: true }),
    () => ({ name: `${p4}_c${tail}.jpg`, kind: 'no camera', expect: null, image: true }),
    () => ({ name: `${p4}c${cam}${tail}.jpg`, kind: 'no underscore', expect: null, image: true }),
    () => ({ name: `${p4}_C${cam}${tail}.jpg`, kind: 'capital C', expect: null, image: true }),
    () => ({ name: ` ${p4}_c${cam}${tail}.jpg`, kind: 'leading space', expect: null, image: true }),
    () => ({ name: `${p4}_c${cam}_f${String(rng.int(0, 9999999)).padStart(7, '0')}.jpg`, kind: 'duke style', expect: ok, image: true }),
    () => ({ name: `${p4}_c${cam}_${rng.int(1, 10)}.png`, kind: 'cuhk03 style', expect: ok, image: true }),
    () => ({ name: `4294967295_c${cam}${tail}.jpg`, kind: 'pid 2^32-1', expect: null, image: true }),
    () => ({ name: `2147483648_c${cam}${tail}.jpg`, kind: 'pid 2^31', expect: null, image: true }),
    () => ({ name: `${p4}_c4294967297${tail}.jpg`, kind: 'camera 2^32+1', expect: null, image: true }),
    () => ({ name: `${'9'.repeat(30)}_c${cam}${tail}.jpg`, kind: '30-digit pid', expect: null, image: true }),
    () => ({ name: `${p4}_c${cam}${tail}`, kind: 'no extension', expect: ok, image: false }),
    () => ({ name: `.${p4}_c${cam}${tail}.jpg`, kind: 'hidden file', expect: null, image: true }),
  ];
  return rng.pick(cases)();
}
