/**
 * Output folders of the CLI, written so that a failure never leaves a half-written one:
 * everything goes into a temporary folder next to the target, which is renamed onto the target
 * only when complete. An unwritable target (/proc/foo, a path through a file, a read-only disk)
 * is found before any work starts, and a folder that holds something other than what the lab
 * writes there is never replaced.
 * Node-only.
 */
import { promises as fs, rmSync } from 'node:fs';
import * as path from 'node:path';
import { LabError } from '../engine/errors';

export interface OutputFolder {
  /** The folder as given (for messages). */
  given: string;
  /** Absolute path. */
  dir: string;
  /** A file whose presence marks a folder the lab wrote and may replace (model.json, manifest.json). */
  marker: string;
  /** The flag that named it, for messages. */
  flag: string;
}

function fail(out: OutputFolder, why: string): never {
  throw new LabError('storage', `Cannot write ${out.flag} ${out.given}: ${why}`, { path: out.dir });
}

/** The nearest folder on the way up that exists (the target itself when it exists). */
async function nearestExisting(p: string): Promise<{ at: string; isDir: boolean }> {
  for (let at = p; ; at = path.dirname(at)) {
    try {
      const st = await fs.stat(at);
      return { at, isDir: st.isDirectory() };
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT') return { at, isDir: false };
      if (path.dirname(at) === at) return { at, isDir: false };
    }
  }
}

/**
 * Fail fast, before any work: the target must be absent, empty, or a folder the lab wrote (it
 * holds the marker file), and the nearest existing folder above it must accept a new folder.
 */
export async function checkOutputFolder(given: string, marker: string, flag = '--out'): Promise<OutputFolder> {
  const out: OutputFolder = { given, dir: path.resolve(given), marker, flag };
  const near = await nearestExisting(out.dir);
  if (!near.isDir) fail(out, `${near.at} is not a folder (or cannot be read).`);
  if (near.at === out.dir) {
    const entries = await fs.readdir(out.dir).catch((e: Error) => fail(out, `the folder cannot be read (${e.message}).`));
    if (entries.length > 0 && !entries.includes(marker)) {
      fail(out, `the folder exists and holds other files (no ${marker}); the lab replaces only folders it wrote. Pick a new or empty folder.`);
    }
  }
  // A real probe: permissions, read-only file systems and /proc all say no here, at once.
  const base = near.at === out.dir ? path.dirname(out.dir) : near.at;
  let probe: string | undefined;
  try {
    probe = await fs.mkdtemp(path.join(base, '.lab-probe-'));
  } catch (e) {
    fail(out, `nothing can be created in ${base} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}). Pick a writable folder.`);
  } finally {
    if (probe) await fs.rmdir(probe).catch(() => undefined);
  }
  return out;
}

/**
 * Fail fast for a single output file: its folder must exist or be creatable, and accept files.
 * Returns a function that creates the missing folders (one level at a time) when it is time to write.
 */
export async function checkOutputFile(given: string, flag: string): Promise<() => Promise<void>> {
  const file = path.resolve(given);
  const out: OutputFolder = { given, dir: file, marker: '', flag };
  const st = await fs.stat(file).catch(() => undefined);
  if (st && !st.isFile()) fail(out, 'it exists and is not a regular file.');
  const near = await nearestExisting(path.dirname(file));
  if (!near.isDir) fail(out, `${near.at} is not a folder (or cannot be read).`);
  let probe: string | undefined;
  try {
    probe = await fs.mkdtemp(path.join(near.at, '.lab-probe-'));
  } catch (e) {
    fail(out, `nothing can be created in ${near.at} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}). Pick a writable folder.`);
  } finally {
    if (probe) await fs.rmdir(probe).catch(() => undefined);
  }
  return () => makeParents(out);
}

/** Create the missing folders above `dir` one level at a time (never a recursive mkdir, which loops on /proc). */
async function makeParents(out: OutputFolder): Promise<void> {
  const missing: string[] = [];
  let at = path.dirname(out.dir);
  for (;;) {
    try {
      if (!(await fs.stat(at)).isDirectory()) fail(out, `${at} is not a folder.`);
      break;
    } catch (e) {
      if (e instanceof LabError) throw e;
      missing.unshift(at);
      const up = path.dirname(at);
      if (up === at) fail(out, 'no folder above it exists.');
      at = up;
    }
  }
  for (const m of missing) {
    try {
      await fs.mkdir(m);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') fail(out, `could not create ${m} (${(e as Error).message}).`);
    }
  }
}

/**
 * Write a whole folder: `fill` writes into a fresh temporary folder beside the target, which
 * then replaces the target in one rename. On any failure the temporary folder is removed and
 * the target is as before.
 */
export async function writeFolderAtomically<T>(out: OutputFolder, fill: (tmpDir: string) => Promise<T>): Promise<T> {
  await checkOutputFolder(out.given, out.marker, out.flag);
  await makeParents(out);
  const parent = path.dirname(out.dir);
  // The name is known before the folder exists, so a signal that lands while it is being made
  // still finds it (with mkdtemp's random name there was a moment when it could not).
  const tmp = path.join(parent, `.${path.basename(out.dir)}.tmp-${process.pid}-${Date.now().toString(36)}`);
  let old: string | undefined;
  // Ctrl-C or a kill while the folder is being filled (train evaluates its card here, which takes
  // minutes on big models): remove the temporary folder, then exit as the signal would have.
  const onSignal = (signal: NodeJS.Signals) => {
    // File operations already handed to libuv's threads (a mkdir of the folder, a shard write)
    // can land after a first removal; no new ones start while this handler blocks the main
    // thread, so remove, let those finish, and remove again.
    const remove = () => {
      try {
        rmSync(tmp, { recursive: true, force: true, maxRetries: 5, retryDelay: 20 });
      } catch {
        // Exit as the signal asked even if the folder could not be removed.
      }
    };
    remove();
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200);
    remove();
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    await fs.mkdir(tmp);
  } catch (e) {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    fail(out, `could not create a temporary folder in ${parent} (${(e as Error).message}).`);
  }
  try {
    const result = await fill(tmp);
    const exists = await fs.stat(out.dir).then(() => true, () => false);
    if (exists) {
      old = `${tmp}.old`;
      await fs.rename(out.dir, old);
    }
    try {
      await fs.rename(tmp, out.dir);
    } catch (e) {
      if (old) await fs.rename(old, out.dir).catch(() => undefined);
      old = undefined;
      throw e;
    }
    return result;
  } catch (e) {
    await fs.rm(tmp, { recursive: true, force: true }).catch(() => undefined);
    // File-system failures become a sentence; anything else (a LabError, a bug) passes through.
    if (e instanceof LabError || typeof (e as NodeJS.ErrnoException)?.code !== 'string') throw e;
    return fail(out, `${(e as Error).message}.`);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    if (old) await fs.rm(old, { recursive: true, force: true }).catch(() => undefined);
  }
}

/** Write one file atomically: a temporary sibling renamed over it. */
export async function writeFileAtomically(file: string, data: string | Uint8Array): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    await fs.writeFile(tmp, data);
    await fs.rename(tmp, file);
  } catch (e) {
    await fs.rm(tmp, { force: true }).catch(() => undefined);
    throw new LabError('storage', `Could not write ${file}: ${(e as Error).message}.`, { path: file });
  }
}

/** True when `a` is `b` or lies inside it. */
export function isSameOrInside(a: string, b: string): boolean {
  const rel = path.relative(path.resolve(b), path.resolve(a));
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}
