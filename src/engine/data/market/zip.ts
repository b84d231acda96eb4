/**
 * A zip archive as a FileSource, read through byte ranges: the central directory is parsed
 * once, then each entry is read and inflated (fflate) only when asked for, one at a time, so a
 * multi-gigabyte dataset archive is never held in memory, compressed or not.
 *
 * Supports stored and deflated entries and ZIP64 (archives or entries past 4 GiB). Every entry's
 * size and CRC-32 are checked against the central directory, so a damaged file is reported as
 * such instead of being decoded into something else. Reads go
 * through a read-ahead window because consecutive images are adjacent in the archive: one
 * 4 MiB slice serves hundreds of small JPEGs.
 */
import { Inflate } from 'fflate';
import { LabError } from '../../errors';
import { MAX_DATASET_FILE_BYTES, isClutter, normalizePath, type FileSource, type RangeReader, type SourceEntry } from './source';
import { crc32 } from './crc32';

interface ZipEntry {
  path: string;
  method: number;
  flags: number;
  /** CRC-32 of the uncompressed bytes, from the central directory. */
  crc: number;
  compressedSize: number;
  size: number;
  localOffset: number;
}

const SIG_EOCD = 0x06054b50;
const SIG_ZIP64_LOCATOR = 0x07064b50;
const SIG_ZIP64_EOCD = 0x06064b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_LOCAL = 0x04034b50;
const WINDOW = 4 << 20;

const u16 = (b: Uint8Array, o: number) => b[o] | (b[o + 1] << 8);
const u32 = (b: Uint8Array, o: number) => (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24)) >>> 0;
const u64 = (b: Uint8Array, o: number) => u32(b, o) + u32(b, o + 4) * 2 ** 32;

/** Caches one window of the underlying file so sequential small reads cost one slice each. */
class WindowedReader {
  private start = 0;
  private bytes: Uint8Array = new Uint8Array(0);
  constructor(private readonly inner: RangeReader, private readonly window: number) {}

  async read(offset: number, length: number): Promise<Uint8Array> {
    if (offset >= this.start && offset + length <= this.start + this.bytes.length) {
      return this.bytes.subarray(offset - this.start, offset - this.start + length);
    }
    if (length >= this.window) return this.inner.read(offset, length);
    const n = Math.min(this.window, this.inner.size - offset);
    this.bytes = await this.inner.read(offset, n);
    this.start = offset;
    return this.bytes.subarray(0, length);
  }
}

function notZip(name: string, why: string): LabError {
  return new LabError('bad-dataset', `${name} is not a readable zip archive: ${why}.`);
}

/**
 * One entry of an otherwise readable archive is damaged. `detail.damaged` lets the dataset
 * loader skip (and report) that file instead of abandoning the whole archive.
 */
function damagedEntry(name: string, path: string, why: string): LabError {
  return new LabError('bad-dataset', `${path} in ${name} is damaged: ${why}.`, { path, damaged: true });
}

async function readCentralDirectory(reader: RangeReader, name: string): Promise<ZipEntry[]> {
  const tailLen = Math.min(reader.size, 22 + 0xffff);
  if (tailLen < 22) throw notZip(name, `it is only ${reader.size} bytes long`);
  const tailStart = reader.size - tailLen;
  const tail = await reader.read(tailStart, tailLen);
  let eocd = -1;
  for (let i = tail.length - 22; i >= 0; i--) {
    if (u32(tail, i) === SIG_EOCD) { eocd = i; break; }
  }
  if (eocd < 0) throw notZip(name, 'no end-of-archive record was found (is the file complete?)');
  let count = u16(tail, eocd + 10);
  let cdSize = u32(tail, eocd + 12);
  let cdOffset = u32(tail, eocd + 16);
  if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
    const loc = eocd - 20;
    if (loc < 0 || u32(tail, loc) !== SIG_ZIP64_LOCATOR) throw notZip(name, 'its ZIP64 locator is missing');
    const z64Offset = u64(tail, loc + 8);
    const z64 = await reader.read(z64Offset, 56);
    if (u32(z64, 0) !== SIG_ZIP64_EOCD) throw notZip(name, 'its ZIP64 end record is damaged');
    count = u64(z64, 32);
    cdSize = u64(z64, 40);
    cdOffset = u64(z64, 48);
  }
  if (cdOffset + cdSize > reader.size) throw notZip(name, 'its central directory points past the end of the file');
  const cd = await reader.read(cdOffset, cdSize);
  const entries: ZipEntry[] = [];
  const utf8 = new TextDecoder('utf-8');
  let p = 0;
  for (let i = 0; i < count; i++) {
    if (p + 46 > cd.length || u32(cd, p) !== SIG_CENTRAL) throw notZip(name, `central directory entry ${i + 1} of ${count} is damaged`);
    const flags = u16(cd, p + 8);
    const method = u16(cd, p + 10);
    const crc = u32(cd, p + 16);
    let compressedSize = u32(cd, p + 20);
    let size = u32(cd, p + 24);
    const nameLen = u16(cd, p + 28);
    const extraLen = u16(cd, p + 30);
    const commentLen = u16(cd, p + 32);
    let localOffset = u32(cd, p + 42);
    const path = utf8.decode(cd.subarray(p + 46, p + 46 + nameLen));
    // ZIP64 extra field: 64-bit values for exactly the fields that overflowed, in this order.
    let e = p + 46 + nameLen;
    const extraEnd = e + extraLen;
    while (e + 4 <= extraEnd) {
      const id = u16(cd, e);
      const len = u16(cd, e + 2);
      if (id === 0x0001) {
        let q = e + 4;
        if (size === 0xffffffff) { size = u64(cd, q); q += 8; }
        if (compressedSize === 0xffffffff) { compressedSize = u64(cd, q); q += 8; }
        if (localOffset === 0xffffffff) { localOffset = u64(cd, q); }
      }
      e += 4 + len;
    }
    entries.push({ path: normalizePath(path), method, flags, crc, compressedSize, size, localOffset });
    p += 46 + nameLen + extraLen + commentLen;
  }
  return entries;
}

/** Compressed bytes per push: at most ~16 MB of output (deflate expands at most ~1032:1) before the cap is checked. */
const INFLATE_CHUNK = 16 << 10;

/**
 * Inflate a deflate stream chunk by chunk into a buffer of the size the directory declares,
 * stopping as soon as the output would pass it (a lying directory cannot make it allocate more).
 * Returns what was inflated; a short result is reported by the caller's size check.
 */
function inflateCapped(raw: Uint8Array, size: number): Uint8Array {
  const out = new Uint8Array(size);
  let len = 0;
  let over = false;
  const inflate = new Inflate((chunk) => {
    if (over) return;
    if (len + chunk.length > size) {
      over = true;
      return;
    }
    out.set(chunk, len);
    len += chunk.length;
  });
  for (let off = 0; off < raw.length && !over; off += INFLATE_CHUNK) {
    const end = Math.min(raw.length, off + INFLATE_CHUNK);
    inflate.push(raw.subarray(off, end), end === raw.length);
  }
  if (over) throw new Error(`it inflates to more than the ${size} bytes the archive's directory says`);
  return out.subarray(0, len);
}

/** Open a zip through byte ranges. Throws bad-dataset if it is not a zip. */
export async function zipSource(reader: RangeReader, name = 'The archive', opts: { windowBytes?: number } = {}): Promise<FileSource> {
  const all = await readCentralDirectory(reader, name);
  const files = all
    .filter((e) => !e.path.endsWith('/') && !isClutter(e.path))
    .sort((a, b) => a.localOffset - b.localOffset);
  const byPath = new Map(files.map((e) => [e.path, e]));
  const windowed = new WindowedReader(reader, opts.windowBytes ?? WINDOW);
  return {
    name,
    list: async (): Promise<SourceEntry[]> => files.map((e) => ({ path: e.path, size: e.size })),
    read: async (path: string): Promise<Uint8Array> => {
      const e = byPath.get(path);
      if (!e) throw new Error(`No entry ${path} in ${name}.`);
      if (e.flags & 1) throw new LabError('bad-dataset', `${path} in ${name} is encrypted; unpack the archive with its password first.`);
      if (e.method !== 0 && e.method !== 8) {
        throw new LabError('bad-dataset', `${path} in ${name} uses zip compression method ${e.method}; only stored and deflated entries are supported.`);
      }
      // Sizes are checked before a byte is inflated: a 2.9 MB zip can hold 1 GiB of zeros.
      if (e.size > MAX_DATASET_FILE_BYTES) {
        throw new LabError('bad-dataset', `${path} in ${name} declares ${e.size} bytes uncompressed, more than the ${MAX_DATASET_FILE_BYTES} bytes a dataset file may have (ReID images are kilobytes); it was not unpacked.`, { path, damaged: true, tooLarge: true });
      }
      // Deflate never grows data by more than a few bytes per 16 KiB block.
      if (e.compressedSize > e.size + Math.ceil(e.size / 1000) + 1024 || e.localOffset + e.compressedSize > reader.size) {
        throw damagedEntry(name, path, `its compressed size (${e.compressedSize} bytes) does not fit its size (${e.size} bytes) or the archive`);
      }
      const head = await windowed.read(e.localOffset, 30);
      if (u32(head, 0) !== SIG_LOCAL) throw notZip(name, `the local header of ${path} is damaged`);
      const dataOffset = e.localOffset + 30 + u16(head, 26) + u16(head, 28);
      const raw = await windowed.read(dataOffset, e.compressedSize);
      // Stored: copy out of the window, which moves on; deflated: inflate now, before it moves.
      let out: Uint8Array;
      try {
        out = e.method === 0 ? Uint8Array.prototype.slice.call(raw) : inflateCapped(raw, e.size);
      } catch (err) {
        throw damagedEntry(name, path, `its compressed data cannot be inflated (${err instanceof Error ? err.message : String(err)})`);
      }
      if (out.length !== e.size) throw damagedEntry(name, path, `it holds ${out.length} bytes where the archive's directory says ${e.size}`);
      // A zero CRC is read as "not recorded" (some hand-made or streaming writers leave it 0);
      // real data has a zero CRC-32 once in 2^32.
      if (e.crc !== 0 && crc32(out) !== e.crc) throw damagedEntry(name, path, 'its CRC-32 checksum does not match the archive\'s directory');
      return out;
    },
    close: reader.close ? () => reader.close!() : undefined,
  };
}
