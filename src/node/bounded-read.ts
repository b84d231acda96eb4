/**
 * Reading a file the user named, with a ceiling: the file must be a regular file (not a device
 * such as /dev/zero, a FIFO or a folder) and is read at most `maxBytes` (+1 to notice more), so a
 * path to something endless or huge fails with a sentence instead of filling memory.
 * Node-only.
 */
import { promises as fs } from 'node:fs';
import { LabError, type LabErrorCode } from '../engine/errors';

const CHUNK = 1 << 20;

export interface BoundedReadMessages {
  /** The file is missing or unreadable. */
  missing: string;
  /** The file holds more than allowed (given the size found, or a lower bound of it). */
  tooBig: (bytes: number) => string;
}

export async function readBounded(file: string, maxBytes: number, code: LabErrorCode, msg: BoundedReadMessages): Promise<Uint8Array> {
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(file, 'r');
  } catch {
    throw new LabError(code, msg.missing, { path: file });
  }
  try {
    const st = await handle.stat();
    if (!st.isFile()) throw new LabError(code, `${file} is not a regular file (a device, pipe or folder); the lab reads model and data files only.`, { path: file });
    if (st.size > maxBytes) throw new LabError(code, msg.tooBig(st.size), { path: file, found: st.size, limit: maxBytes });
    // Read to the end, never past the ceiling: some files (/proc) report size 0 and hold more.
    const parts: Uint8Array[] = [];
    let total = 0;
    for (;;) {
      const want = Math.min(CHUNK, maxBytes + 1 - total);
      const buf = new Uint8Array(Math.max(1, want));
      const { bytesRead } = await handle.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      parts.push(buf.subarray(0, bytesRead));
      total += bytesRead;
      if (total > maxBytes) throw new LabError(code, msg.tooBig(total), { path: file, found: total, limit: maxBytes });
    }
    const out = new Uint8Array(total);
    let off = 0;
    for (const p of parts) {
      out.set(p, off);
      off += p.length;
    }
    return out;
  } catch (e) {
    if (e instanceof LabError) throw e;
    throw new LabError(code, `${msg.missing} (${(e as Error).message})`, { path: file });
  } finally {
    await handle.close();
  }
}

/** A small text file (a card, a cache, notes): at most `maxBytes`, UTF-8. */
export async function readTextBounded(file: string, maxBytes: number, code: LabErrorCode, what: string): Promise<string> {
  const bytes = await readBounded(file, maxBytes, code, {
    missing: `${what} ${file} does not exist or cannot be read.`,
    tooBig: (n) => `${what} ${file} has at least ${n} bytes, more than the ${maxBytes} such a file can have; is it the right file?`,
  });
  return new TextDecoder().decode(bytes);
}
