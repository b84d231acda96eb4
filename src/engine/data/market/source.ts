/**
 * A "file source": the files of a dataset, however they arrived (a zip archive, a folder picked
 * or dropped in the browser, a folder on disk in Node). Paths are relative, '/'-separated, and
 * name files only (no directory entries). Reading is per file and on demand, so a loader only
 * ever holds the bytes of the file it is decoding.
 */

/**
 * The largest file a dataset may hand the loader (an image, or an MSMT17 list): ReID crops are
 * kilobytes, so anything past this is a decompression bomb or the wrong file, and is skipped.
 */
export const MAX_DATASET_FILE_BYTES = 64 << 20;

export interface SourceEntry {
  path: string;
  /** Uncompressed size in bytes. */
  size: number;
}

export interface FileSource {
  /** What the user picked, for messages (e.g. "Market-1501-v15.09.15.zip"). */
  readonly name: string;
  /** Every file, in the order that is cheapest to read (e.g. archive order). */
  list(): Promise<SourceEntry[]>;
  read(path: string): Promise<Uint8Array>;
  close?(): Promise<void>;
}

/** Random access to the bytes of one large file (a zip), without loading all of it. */
export interface RangeReader {
  readonly size: number;
  read(offset: number, length: number): Promise<Uint8Array>;
  close?(): Promise<void>;
}

/** OS clutter that is never part of a dataset. */
export function isClutter(path: string): boolean {
  const parts = path.split('/');
  const base = parts[parts.length - 1];
  return parts.includes('__MACOSX') || base.startsWith('._') || base === '.DS_Store' || base === 'Thumbs.db' || base === 'desktop.ini';
}

export function normalizePath(path: string): string {
  return path.replace(/\\/g, '/').replace(/^\.?\/+/, '');
}

/** Files held in memory (tests, small uploads). */
export function memorySource(files: ReadonlyMap<string, Uint8Array> | Record<string, Uint8Array>, name = 'files'): FileSource {
  const map = files instanceof Map ? files : new Map(Object.entries(files));
  const byPath = new Map<string, Uint8Array>();
  for (const [p, b] of map) byPath.set(normalizePath(p), b);
  return {
    name,
    list: async () => [...byPath].map(([path, b]) => ({ path, size: b.length })),
    read: async (path) => {
      const b = byPath.get(path);
      if (!b) throw new Error(`No file ${path} in ${name}.`);
      return b;
    },
  };
}

/** Browser files with their relative paths (a folder input, or a dropped folder walked by the UI). */
export function blobFilesSource(files: readonly { path: string; file: Blob }[], name = 'folder'): FileSource {
  const byPath = new Map<string, Blob>();
  for (const f of files) byPath.set(normalizePath(f.path), f.file);
  return {
    name,
    list: async () => [...byPath].map(([path, b]) => ({ path, size: b.size })),
    read: async (path) => {
      const b = byPath.get(path);
      if (!b) throw new Error(`No file ${path} in ${name}.`);
      return new Uint8Array(await b.arrayBuffer());
    },
  };
}

/** An <input type="file" webkitdirectory> FileList (paths from webkitRelativePath). */
export function fileListSource(list: ArrayLike<File>, name?: string): FileSource {
  const files = Array.from(list, (file) => ({ path: file.webkitRelativePath || file.name, file }));
  const top = files[0]?.path.split('/')[0];
  return blobFilesSource(files, name ?? top ?? 'folder');
}

/** Byte ranges of a Blob/File (browser or worker): reads slices, never the whole file. */
export function blobRangeReader(blob: Blob): RangeReader {
  return {
    size: blob.size,
    read: async (offset, length) => new Uint8Array(await blob.slice(offset, offset + length).arrayBuffer()),
  };
}

/** Byte ranges of an in-memory buffer. */
export function bytesRangeReader(bytes: Uint8Array): RangeReader {
  return {
    size: bytes.length,
    read: async (offset, length) => bytes.subarray(offset, Math.min(bytes.length, offset + length)),
  };
}
