/**
 * Issue 20, Node side: model folders read only files inside themselves and no more bytes than
 * their manifest declares (item 1), malformed manifests get sentences instead of "Cannot read
 * properties of null (reading 'paths')" / "Weight shard undefined" (item 13), and output folders
 * are written atomically, never replacing a folder the lab did not write (items 11, 15).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { artifactsToModelJson, modelToArtifacts } from '../../src/engine/model/weights-io';
import { loadArraysFromFolder } from '../../src/node/model-files';
import { checkOutputFolder, writeFolderAtomically } from '../../src/node/output-folder';
import { isLabError, type LabError } from '../../src/engine/errors';
import { readableMessage } from './fuzz/harness';
import { sameArrays, tinyArrays, tinySpec } from './fuzz/fixtures';

const spec = tinySpec();
const arrays = tinyArrays(spec);
const artifacts = modelToArtifacts(spec, arrays);
const shard = new Uint8Array(artifacts.weightData as ArrayBuffer);
let tmp: string;

beforeAll(() => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'lab-output-files-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function folder(name: string, json: unknown, shards: Record<string, Uint8Array> = { 'group1-shard1of1.bin': shard }): string {
  const dir = path.join(tmp, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'model.json'), typeof json === 'string' ? json : JSON.stringify(json));
  for (const [f, b] of Object.entries(shards)) writeFileSync(path.join(dir, f), b);
  return dir;
}

async function refused(dir: string): Promise<LabError> {
  try {
    await loadArraysFromFolder(dir);
  } catch (e) {
    if (isLabError(e)) {
      expect(readableMessage(e.message), e.message).toBe(true);
      return e;
    }
    throw e;
  }
  throw new Error('expected the load to fail');
}

describe('item 1: shard paths stay inside the model folder; reads are bounded', () => {
  it('../ paths to /dev/zero and /etc/passwd, absolute paths and a real shard outside are refused', async () => {
    writeFileSync(path.join(tmp, 'outside.bin'), shard);
    for (const p of ['../'.repeat(12) + 'dev/zero', '../'.repeat(12) + 'etc/passwd', '/etc/passwd', '../outside.bin']) {
      const e = await refused(folder(`trav${p.length}`, artifactsToModelJson(artifacts, [p])));
      expect(e.code).toBe('bad-model-file');
      expect(e.message).toContain(`lists the weight shard "${p}", which is outside the model folder`);
    }
  });

  it('a symbolic link inside the folder that points outside is refused; one pointing inside loads', async () => {
    const dir = folder('links', artifactsToModelJson(artifacts, ['link.bin']));
    symlinkSync(path.join(tmp, 'outside.bin'), path.join(dir, 'link.bin'));
    expect((await refused(dir)).message).toContain('outside the model folder');
    const ok = folder('links-in', artifactsToModelJson(artifacts, ['link.bin']));
    symlinkSync(path.join(ok, 'group1-shard1of1.bin'), path.join(ok, 'link.bin'));
    expect(sameArrays((await loadArraysFromFolder(ok)).arrays, arrays)).toBe(true);
  });

  it('a shard far larger than the manifest declares is not read', async () => {
    const big = new Uint8Array(shard.length * 50);
    const e = await refused(folder('big', artifactsToModelJson(artifacts, ['group1-shard1of1.bin']), { 'group1-shard1of1.bin': big }));
    expect(e.message).toMatch(/has at least \d+ bytes, more than the \d+ bytes of weights its model.json leaves for it/);
  });

  it('a shard that is a folder (or device) is refused as not a regular file', async () => {
    const dir = folder('dirshard', artifactsToModelJson(artifacts, ['sub']), {});
    mkdirSync(path.join(dir, 'sub'));
    expect((await refused(dir)).message).toContain('is not a regular file');
  });
});

describe('item 13: malformed model.json gets a sentence about the file', () => {
  const cases: [string, unknown, string][] = [
    ['null', null, 'holds null, not a model'],
    ['a null manifest group', { ...artifactsToModelJson(artifacts, ['x']), weightsManifest: [null] }, 'weightsManifest group 1 is null'],
    ['paths [null]', { ...artifactsToModelJson(artifacts, ['x']), weightsManifest: [{ paths: [null], weights: [] }] }, 'has paths [null]; expected a list of shard file names'],
    ['paths not a list', { ...artifactsToModelJson(artifacts, ['x']), weightsManifest: [{ paths: 'a.bin', weights: [] }] }, 'has paths "a.bin"'],
    ['no manifest', { format: 'prunability-lab/model@1' }, 'has no weightsManifest list'],
  ];
  for (const [what, json, msg] of cases) {
    it(what, async () => {
      const e = await refused(folder(`bad-${what.replace(/\W/g, '')}`, json));
      expect(e.code).toBe('bad-model-file');
      expect(e.message).toContain(msg);
      expect(e.message).not.toMatch(/Cannot read properties|undefined|not iterable/);
    });
  }
});

describe('items 11 and 15: output folders', () => {
  it('a failure half-way leaves the target as it was and no temporary folder', async () => {
    const target = path.join(tmp, 'out', 'model');
    const out = await checkOutputFolder(target, 'model.json');
    await writeFolderAtomically(out, async (dir) => writeFileSync(path.join(dir, 'model.json'), 'first'));
    await expect(
      writeFolderAtomically(out, async (dir) => {
        writeFileSync(path.join(dir, 'model.json'), 'second');
        throw new Error('disk on fire');
      }),
    ).rejects.toThrow('disk on fire');
    expect(readFileSync(path.join(target, 'model.json'), 'utf8')).toBe('first');
    expect(readdirSync(path.dirname(target))).toEqual(['model']);
    await writeFolderAtomically(out, async (dir) => writeFileSync(path.join(dir, 'model.json'), 'third'));
    expect(readFileSync(path.join(target, 'model.json'), 'utf8')).toBe('third');
    expect(readdirSync(path.dirname(target))).toEqual(['model']);
  });

  it('a folder holding other files is never replaced; /proc and paths through a file fail at once', async () => {
    const other = path.join(tmp, 'mine');
    mkdirSync(other);
    writeFileSync(path.join(other, 'thesis.tex'), 'precious');
    await expect(checkOutputFolder(other, 'model.json')).rejects.toSatisfy((e: unknown) => isLabError(e, 'storage') && /holds other files \(no model.json\)/.test((e as Error).message));
    await expect(checkOutputFolder('/proc/lab/x', 'model.json')).rejects.toSatisfy((e: unknown) => isLabError(e, 'storage') && /nothing can be created in \/proc/.test((e as Error).message));
    await expect(checkOutputFolder(path.join(other, 'thesis.tex', 'x'), 'model.json')).rejects.toSatisfy((e: unknown) => isLabError(e, 'storage') && /is not a folder/.test((e as Error).message));
    expect(readFileSync(path.join(other, 'thesis.tex'), 'utf8')).toBe('precious');
    expect(existsSync(path.join(tmp, 'lab'))).toBe(false);
  });
});
