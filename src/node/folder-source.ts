/**
 * Node-side file sources for the dataset loader: a folder on disk, and a zip file read through
 * byte ranges (never loaded whole: MSMT17's archive is gigabytes).
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { LabError } from '../engine/errors';
import { MAX_DATASET_FILE_BYTES, isClutter, type FileSource, type RangeReader, type SourceEntry } from '../engine/data/market/source';
import { readBounded } from './bounded-read';
import { zipSource } from '../engine/data/market/zip';

/** Every file under `dir` (recursively), with '/'-separated paths relative to it. */
export async function nodeFolderSource(dir: string): Promise<FileSource> {
  const root = path.resolve(dir);
  const stat = await fs.stat(root).catch(() => null);
  if (!stat?.isDirectory()) throw new LabError('bad-dataset', `Expected a folder at ${dir}; found ${stat ? 'a file' : 'nothing'}.`);
  const entries: SourceEntry[] = [];
  async function walk(rel: string): Promise<void> {
    const items = await fs.readdir(path.join(root, rel), { withFileTypes: true });
    items.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const it of items) {
      const r = rel === '' ? it.name : `${rel}/${it.name}`;
      if (it.isDirectory()) await walk(r);
      else if (it.isFile() && !isClutter(r)) entries.push({ path: r, size: (await fs.stat(path.join(root, r))).size });
    }
  }
  await walk('');
  return {
    name: path.basename(root),
    list: async () => entries,
    // Bounded like a zip entry: a huge file named .jpg is skipped (and reported), not read.
    read: (p) =>
      readBounded(path.join(root, ...p.split('/')), MAX_DATASET_FILE_BYTES, 'bad-dataset', {
        missing: `${p} in ${path.basename(root)} cannot be read.`,
        tooBig: (n) => `${p} in ${path.basename(root)} has at least ${n} bytes, more than the ${MAX_DATASET_FILE_BYTES} bytes a dataset file may have (ReID images are kilobytes); it was not read.`,
      }).catch((e: unknown) => {
        throw e instanceof LabError ? new LabError(e.code, e.message, { ...e.detail, path: p, damaged: true }) : e;
      }),
  };
}

/** Byte ranges of a file on disk. */
export async function nodeFileRangeReader(file: string): Promise<RangeReader> {
  const handle = await fs.open(file, 'r').catch(() => {
    throw new LabError('bad-dataset', `Could not open ${file}; expected a readable zip file.`);
  });
  const { size } = await handle.stat();
  return {
    size,
    read: async (offset, length) => {
      const n = Math.max(0, Math.min(length, size - offset));
      const buf = new Uint8Array(n);
      let done = 0;
      while (done < n) {
        const { bytesRead } = await handle.read(buf, done, n - done, offset + done);
        if (bytesRead === 0) break;
        done += bytesRead;
      }
      return buf.subarray(0, done);
    },
    close: () => handle.close(),
  };
}

/** A zip file on disk as a FileSource (central directory first, entries on demand). */
export async function nodeZipSource(file: string): Promise<FileSource> {
  const reader = await nodeFileRangeReader(file);
  try {
    return await zipSource(reader, path.basename(file));
  } catch (e) {
    await reader.close?.();
    throw e;
  }
}

/** A folder or a .zip, by what the path is. */
export async function nodeDatasetSource(p: string): Promise<FileSource> {
  const stat = await fs.stat(p).catch(() => null);
  if (!stat) throw new LabError('bad-dataset', `Nothing found at ${p}; expected a dataset folder or .zip file.`);
  return stat.isDirectory() ? nodeFolderSource(p) : nodeZipSource(p);
}
