/**
 * The `lab` command as a user runs it (a child process), issue 20:
 * - every command that writes (generate, train, prune, finetune, card, export, reproduce) writes
 *   only its declared outputs: a snapshot of the whole working folder before and after differs
 *   only there (no temp folder left beside them, the --model folder untouched);
 * - a run that fails (training diverges, a resumed checkpoint holds NaN) leaves no --out folder;
 * - unwritable outputs (--out or train's --run-dir under /proc), an --out that is, lies inside or
 *   contains the --model folder (prune, finetune, export --format folder; also through a
 *   symbolic link) without --force, unknown flags and bad enum values fail at once with a
 *   sentence;
 * - hostile model files and datasets (a shard path to /dev/zero, a cyclic ONNX graph, a zip entry
 *   of 80 MiB of zeros) end within a time cap and a peak-memory cap (GNU time's max RSS).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { zipSync } from 'fflate';
import { initBackend } from '../../src/engine/backend/init';
import { buildSpec } from '../../src/engine/model/spec';
import { ReidModel } from '../../src/engine/model/model';
import { saveModelToFolder } from '../../src/node/model-files';
import { deserializeCheckpoint, serializeCheckpoint } from '../../src/engine/train/checkpoint';
import { exportOnnx } from '../../src/engine/onnx/export';
import { decodeModel, encodeModel } from '../../src/engine/onnx/schema';
import { encodePng } from '../../src/engine/data/codec';
import { modelToStateDict } from '../../src/engine/model/state-dict';
import { writeSafetensors } from '../../src/engine/model/safetensors';

const ROOT = path.resolve(__dirname, '../..');
const TSX = path.join(ROOT, 'node_modules/tsx/dist/cli.mjs');
const LAB = path.join(ROOT, 'src/cli/lab.ts');
/** Caps for hostile inputs: a bare `lab info` peaks near 180 MB here; the bugs reached 4-11 GB. */
const RSS_CAP_KB = 700 * 1024;
const TIME_CAP_S = 60;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  maxRssKb: number;
  seconds: number;
}

/** Run `lab ...args` under GNU time (peak RSS) with a hard timeout. */
function lab(args: string[], cwd: string, timeoutS = 240): Promise<Run> {
  return new Promise((resolve) => {
    const t0 = Date.now();
    // Its own process group, so the timeout kills the lab too, not only GNU time (a hung lab kept
    // the pipes open and the test waited past its cap).
    const p = spawn('/usr/bin/time', ['-f', '@@rss %M', process.execPath, TSX, LAB, ...args], { cwd, env: { ...process.env, NO_COLOR: '1' }, detached: true });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += String(d)));
    p.stderr.on('data', (d) => (stderr += String(d)));
    const timer = setTimeout(() => process.kill(-p.pid!, 'SIGKILL'), timeoutS * 1000);
    p.on('close', (code) => {
      clearTimeout(timer);
      const m = /@@rss (\d+)/.exec(stderr);
      resolve({ code, stdout, stderr: stderr.replace(/@@rss \d+\n?/, '').replace(/Command exited with non-zero status \d+\n/, ''), maxRssKb: m ? Number(m[1]) : NaN, seconds: (Date.now() - t0) / 1000 });
    });
  });
}

/** Every file and folder under `dir` with its size and mtime (what "nothing else changed" compares). */
function snapshot(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (rel: string) => {
    for (const e of readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      const r = path.join(rel, e.name);
      const st = statSync(path.join(dir, r));
      out.set(r, e.isDirectory() ? 'dir' : `${st.size}:${st.mtimeMs}`);
      if (e.isDirectory()) walk(r);
    }
  };
  walk('');
  return out;
}

/** Paths that changed between two snapshots, except under the allowed folders. */
function changedOutside(before: Map<string, string>, after: Map<string, string>, allowed: string[]): string[] {
  const ok = (p: string) => allowed.some((a) => p === a || p.startsWith(a + path.sep));
  const keys = new Set([...before.keys(), ...after.keys()]);
  return [...keys].filter((k) => before.get(k) !== after.get(k) && !ok(k)).sort();
}

let tmp: string;
const model = () => path.join(tmp, 'model');
const sentence = (r: Run) => r.stderr.trim().split('\n').filter((l) => l.startsWith('error: ')).pop() ?? '';

beforeAll(async () => {
  await initBackend('wasm');
  tmp = mkdtempSync(path.join(os.tmpdir(), 'lab-cli-outputs-'));
  const spec = buildSpec({ depth: 18, widthMultiplier: 0.125, inputHeight: 64, inputWidth: 32 });
  const m = ReidModel.init(spec, 1);
  await saveModelToFolder(m, model());
  // The zoo reproduce needs: ResNet-18 and -50 at "width 0.5" (tiny here).
  await saveModelToFolder(m, path.join(tmp, 'zoo', 'resnet18-w0.5'));
  const m50 = ReidModel.init(buildSpec({ depth: 50, widthMultiplier: 0.125, inputHeight: 64, inputWidth: 32 }), 2);
  await saveModelToFolder(m50, path.join(tmp, 'zoo', 'resnet50-w0.5'));
  m50.dispose();
  m.dispose();
}, 120_000);

afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('every command that writes writes only its outputs, atomically', () => {
  const common = ['--tier', 'XS', '--domain', 'target', '--ids', '4', '--images-per-id', '2', '--p', '2', '--k', '2'];
  const cases: { name: string; args: () => string[]; outputs: string[]; check: string }[] = [
    { name: 'generate', args: () => ['generate', '--tier', 'XS', '--domain', 'target', '--height', '64', '--img-width', '32', '--out', 'gen'], outputs: ['gen'], check: 'gen/manifest.json' },
    { name: 'finetune', args: () => ['finetune', '--model', 'model', ...common, '--steps', '1', '--no-eval', '--out', 'ft'], outputs: ['ft'], check: 'ft/model.json' },
    { name: 'prune', args: () => ['prune', '--model', 'model', '--rate', '0.5', ...common, '--no-eval', '--out', 'pruned'], outputs: ['pruned'], check: 'pruned/card.json' },
    {
      name: 'train',
      args: () => ['train', '--depth', '18', '--width', '0.125', '--height', '64', '--img-width', '32', '--tier', 'XS', '--steps', '1', '--p', '2', '--k', '2', '--out', 'trained', '--run-dir', 'runs/trained', '--checkpoint-every', '1'],
      outputs: ['trained', 'runs'],
      check: 'trained/card.json',
    },
    { name: 'card', args: () => ['card', '--model', 'ft'], outputs: ['ft/card.json'], check: 'ft/card.json' },
    { name: 'export plan', args: () => ['export', '--model', 'pruned', '--format', 'plan', '--out', 'exported/plan.json'], outputs: ['exported'], check: 'exported/plan.json' },
    { name: 'export onnx', args: () => ['export', '--model', 'model', '--format', 'onnx', '--out', 'm.onnx'], outputs: ['m.onnx'], check: 'm.onnx' },
    { name: 'export safetensors', args: () => ['export', '--model', 'model', '--format', 'safetensors', '--out', 'm.safetensors'], outputs: ['m.safetensors'], check: 'm.safetensors' },
    { name: 'export folder', args: () => ['export', '--model', 'm.safetensors', '--format', 'folder', '--dtype', 'float16', '--out', 'mf'], outputs: ['mf'], check: 'mf/model.json' },
    {
      name: 'reproduce',
      args: () => ['reproduce', '--zoo', 'zoo', '--regime', 'v1', '--tier', 'XS', '--seeds', '1', '--steps', '1', '--p', '2', '--k', '2', '--ids', '4', '--images-per-id', '2', '--eval-ids', '0', '--rows', 'resnet18', '--cache', 'rep/cache.json', '--out', 'rep/R.md', '--json-out', 'rep/r.json'],
      outputs: ['rep'],
      check: 'rep/r.json',
    },
  ];
  for (const c of cases) {
    it(`${c.name}: exit 0, ${c.outputs.join(' and ')} written, nothing else in the working folder changed`, async () => {
      const before = snapshot(tmp);
      const r = await lab(c.args(), tmp);
      expect(r.code, r.stderr).toBe(0);
      expect(existsSync(path.join(tmp, c.check))).toBe(true);
      expect(changedOutside(before, snapshot(tmp), c.outputs)).toEqual([]);
    });
  }
});

describe('a failed run leaves no output folder', () => {
  it('finetune --lr 1e10: training diverges, exit 1, no --out, no temp folder', async () => {
    const before = snapshot(tmp);
    const r = await lab(['finetune', '--model', 'model', '--tier', 'XS', '--ids', '4', '--images-per-id', '2', '--p', '2', '--k', '2', '--steps', '30', '--no-eval', '--lr', '1e10', '--out', 'nan-ft'], tmp);
    expect(r.code).toBe(1);
    expect(sentence(r)).toMatch(/^error: Training diverged at step \d+ of 30: .* Lower the learning rate/);
    expect(changedOutside(before, snapshot(tmp), [])).toEqual([]);
  });

  it('prune --finetune-steps with --lr 1e10: the same', async () => {
    const before = snapshot(tmp);
    const r = await lab(['prune', '--model', 'model', '--rate', '0.5', '--finetune-steps', '30', '--tier', 'XS', '--ids', '4', '--images-per-id', '2', '--p', '2', '--k', '2', '--no-eval', '--lr', '1e10', '--out', 'nan-pr'], tmp);
    expect(r.code).toBe(1);
    expect(sentence(r)).toContain('Training diverged');
    expect(changedOutside(before, snapshot(tmp), [])).toEqual([]);
  });

  it('train --resume-from a checkpoint holding NaN: refused before training, nothing written', async () => {
    // The checkpoint the train case above wrote (same spec as this run), with one NaN.
    const c = deserializeCheckpoint(new Uint8Array(readFileSync(path.join(tmp, 'runs/trained/checkpoint.ckpt'))));
    c.params['layer2.0.conv1.weight'].values[3] = NaN;
    writeFileSync(path.join(tmp, 'nan.ckpt'), serializeCheckpoint(c));
    const before = snapshot(tmp);
    const r = await lab(['train', '--depth', '18', '--width', '0.125', '--height', '64', '--img-width', '32', '--tier', 'XS', '--steps', '2', '--p', '2', '--k', '2', '--resume-from', 'nan.ckpt', '--out', 'nan-train', '--run-dir', 'runs/nan'], tmp);
    expect(r.code).toBe(1);
    expect(sentence(r)).toMatch(/checkpoint's parameter layer2\.0\.conv1\.weight holds NaN/);
    expect(changedOutside(before, snapshot(tmp), [])).toEqual([]);
  });
});

describe('an interrupted write leaves nothing', () => {
  it('Ctrl-C while train fills its output folder (evaluating the card): no --out, no temporary folder, exit 130', async () => {
    const before = snapshot(tmp);
    // One process (tsx as a loader, not its CLI wrapper), so the signal reaches the lab itself.
    const p = spawn(process.execPath, ['--import', pathToFileURL(path.join(ROOT, 'node_modules/tsx/dist/loader.mjs')).href, LAB, 'train', '--depth', '18', '--width', '0.125', '--height', '64', '--img-width', '32', '--tier', 'XS', '--steps', '1', '--p', '2', '--k', '2', '--out', 'sigint-out', '--run-dir', 'runs/sigint'], { cwd: tmp });
    let stderr = '';
    p.stderr.on('data', (d) => (stderr += String(d)));
    const exited = new Promise<number | null>((resolve) => p.on('close', (code) => resolve(code)));
    // Wait for the temporary folder beside --out, then interrupt.
    const t0 = Date.now();
    let seen = false;
    while (!seen && Date.now() - t0 < 120_000 && p.exitCode === null) {
      seen = readdirSync(tmp).some((f) => f.startsWith('.sigint-out.tmp-'));
      if (!seen) await new Promise((r) => setTimeout(r, 25));
    }
    expect(seen, stderr).toBe(true);
    p.kill('SIGINT');
    expect(await exited).toBe(130);
    expect(changedOutside(before, snapshot(tmp), ['runs'])).toEqual([]);
  });
});

describe('bad outputs and flags fail at once with a sentence', () => {
  it('--out /proc/foo fails fast (it hung in a recursive mkdir)', async () => {
    const r = await lab(['finetune', '--model', 'model', '--steps', '1', '--out', '/proc/lab-test/foo'], tmp, 60);
    expect(r.code).toBe(1);
    expect(sentence(r)).toContain('Cannot write --out /proc/lab-test/foo: nothing can be created in /proc');
    expect(r.seconds).toBeLessThan(TIME_CAP_S);
  });

  it('train --run-dir /proc/... fails fast, before training (it hung in a recursive mkdir after training)', async () => {
    const before = snapshot(tmp);
    const r = await lab(['train', '--depth', '18', '--width', '0.125', '--height', '64', '--img-width', '32', '--tier', 'XS', '--steps', '1', '--p', '2', '--k', '2', '--out', 'proc-train', '--run-dir', '/proc/lab-test/r'], tmp, TIME_CAP_S);
    expect(r.code, r.stderr).toBe(1);
    expect(sentence(r)).toContain('Cannot write --run-dir /proc/lab-test/r/checkpoint.ckpt: nothing can be created in /proc');
    expect(r.stderr).not.toContain('train ResNet-18');
    expect(changedOutside(before, snapshot(tmp), [])).toEqual([]);
  });

  it('prune --out equal to or inside --model is refused unless --force', async () => {
    const before = snapshot(tmp);
    for (const out of ['model', 'model/sub']) {
      const r = await lab(['prune', '--model', 'model', '--rate', '0.5', '--tier', 'XS', '--no-eval', '--out', out], tmp);
      expect(r.code).toBe(1);
      expect(sentence(r)).toMatch(/--out model(\/sub)? (is|lies inside) the --model folder model; .* add --force/);
    }
    expect(changedOutside(before, snapshot(tmp), [])).toEqual([]);
  });

  describe('an --out that would replace the --model folder, directly or through a symbolic link', () => {
    // A copy with the files a rename onto it would lose (card.json, plan.json), and links to it.
    const victim = () => path.join(tmp, 'victim');
    beforeAll(() => {
      cpSync(model(), victim(), { recursive: true });
      writeFileSync(path.join(victim(), 'card.json'), '{"name": "victim"}\n');
      writeFileSync(path.join(victim(), 'plan.json'), '{}\n');
      symlinkSync('victim', path.join(tmp, 'victim-link'));
      symlinkSync('.', path.join(tmp, 'here'));
    });
    const tiny = ['--rate', '0.5', '--tier', 'XS', '--ids', '4', '--images-per-id', '2', '--p', '2', '--k', '2', '--no-eval'];
    const refusals: [string, string[], RegExp][] = [
      ['export --format folder onto --model', ['export', '--model', 'victim', '--format', 'folder', '--out', 'victim'], /^error: --out victim is the --model folder victim; .* add --force/],
      ['export --format folder onto a link to --model', ['export', '--model', 'victim', '--format', 'folder', '--out', 'victim-link'], /--out victim-link is the --model folder victim/],
      ['export --format folder onto the folder --model.json is in', ['export', '--model', 'victim/model.json', '--format', 'folder', '--out', 'here/victim'], /--out here\/victim contains the --model file victim\/model\.json/],
      ['prune with --model a link, --out the folder it points to', ['prune', '--model', 'victim-link', ...tiny, '--out', 'victim'], /--out victim is the --model folder victim-link/],
      ['prune --out inside --model through a link', ['prune', '--model', 'victim', ...tiny, '--out', 'victim-link/sub'], /--out victim-link\/sub lies inside the --model folder victim/],
      ['prune --out around --model', ['prune', '--model', 'victim', ...tiny, '--out', 'here'], /--out here contains the --model folder victim/],
      ['finetune --out a link to --model', ['finetune', '--model', 'victim', '--tier', 'XS', '--ids', '4', '--images-per-id', '2', '--p', '2', '--k', '2', '--steps', '1', '--no-eval', '--out', 'victim-link'], /--out victim-link is the --model folder victim/],
    ];
    for (const [name, args, msg] of refusals) {
      it(`${name}: refused without --force, nothing written`, async () => {
        const before = snapshot(tmp);
        const r = await lab(args, tmp, TIME_CAP_S);
        expect(r.code, r.stderr).toBe(1);
        expect(sentence(r)).toMatch(msg);
        expect(changedOutside(before, snapshot(tmp), [])).toEqual([]);
      });
    }

    it('with --force, export --format folder replaces the --model folder (its card goes with it)', async () => {
      const r = await lab(['export', '--model', 'victim', '--format', 'folder', '--out', 'victim', '--force'], tmp, TIME_CAP_S);
      expect(r.code, r.stderr).toBe(0);
      expect(existsSync(path.join(victim(), 'model.json'))).toBe(true);
      expect(existsSync(path.join(victim(), 'card.json'))).toBe(false);
    });
  });

  it('unknown flags and bad values name the closest valid one', async () => {
    const cases: [string[], string][] = [
      [['prune', '--model', 'model', '--rate', '0.5', '--finetune-step', '10', '--out', 'x'], 'Unknown flag --finetune-step for "prune"; did you mean --finetune-steps?'],
      [['eval', '--model', 'model', '--backend', 'gpu'], '--backend must be one of wasm, cpu; got "gpu"'],
      [['prune', '--model', 'model', '--rate', '0.5', '--strategy', 'iterativ', '--out', 'x'], 'got "iterativ" (did you mean iterative?)'],
      [['info', '--model', 'model', '--json', 'yes'], '--json is on or off and takes no value'],
    ];
    for (const [args, msg] of cases) {
      const r = await lab(args, tmp, 60);
      expect(r.code, args.join(' ')).toBe(1);
      expect(sentence(r)).toContain(msg);
    }
    expect(existsSync(path.join(tmp, 'x'))).toBe(false);
  });
});

describe('hostile inputs end within time and memory caps', () => {
  it('a model.json whose shard path is ../../dev/zero: refused, bounded (it grew to 11 GB)', async () => {
    const dir = path.join(tmp, 'zero');
    rmSync(dir, { recursive: true, force: true });
    const json = JSON.parse(readFileSync(path.join(model(), 'model.json'), 'utf8')) as { weightsManifest: { paths: string[] }[] };
    json.weightsManifest[0].paths[0] = '../'.repeat(12) + 'dev/zero';
    mkdirSync(dir);
    writeFileSync(path.join(dir, 'model.json'), JSON.stringify(json));
    const r = await lab(['info', '--model', dir], tmp, TIME_CAP_S);
    expect(r.code).toBe(1);
    expect(sentence(r)).toContain('which is outside the model folder');
    expect(r.maxRssKb).toBeLessThan(RSS_CAP_KB);
  });

  it('--resume-from and --reading naming /dev/zero: refused at once, bounded', async () => {
    const cases: [string[], string][] = [
      [['train', '--depth', '18', '--width', '0.125', '--height', '64', '--img-width', '32', '--tier', 'XS', '--steps', '1', '--resume-from', '/dev/zero', '--out', 'z-train', '--run-dir', 'runs/z'], '/dev/zero is not a regular file'],
      [['reproduce', '--zoo', 'zoo', '--regime', 'v1', '--tier', 'XS', '--rows', 'resnet18', '--reading', '/dev/zero', '--cache', 'z/c.json', '--out', 'z/R.md'], '/dev/zero is not a regular file'],
    ];
    for (const [args, msg] of cases) {
      const r = await lab(args, tmp, TIME_CAP_S);
      expect(r.code, args[0]).toBe(1);
      expect(sentence(r)).toContain(msg);
      expect(r.maxRssKb).toBeLessThan(RSS_CAP_KB);
    }
    expect(existsSync(path.join(tmp, 'z-train'))).toBe(false);
  });

  it('an ONNX graph with a cycle: refused, bounded (it looped to 4 GB)', async () => {
    const spec = buildSpec({ depth: 18, widthMultiplier: 0.125, inputHeight: 64, inputWidth: 32 });
    const m = ReidModel.init(spec, 1);
    const onnx = decodeModel(exportOnnx(spec, await m.toArrays()));
    m.dispose();
    const nodes = onnx.graph!.node!;
    const conv = nodes.find((n) => n.opType === 'Conv' && nodes.some((p) => p.opType === 'MaxPool' && p.output![0] === n.input![0]))!;
    conv.input![0] = nodes.filter((n) => n.opType === 'Relu')[2].output![0];
    writeFileSync(path.join(tmp, 'cycle.onnx'), encodeModel(onnx));
    const r = await lab(['info', '--model', 'cycle.onnx'], tmp, TIME_CAP_S);
    expect(r.code).toBe(1);
    expect(sentence(r)).toContain('The ONNX graph has a cycle');
    expect(r.maxRssKb).toBeLessThan(RSS_CAP_KB);
  });

  it('a dataset zip with an 80 MiB entry of zeros named .jpg: skipped with a notice, bounded', async () => {
    const png = (v: number) => encodePng({ width: 32, height: 64, data: new Uint8Array(64 * 32 * 3).fill(v) });
    const files: Record<string, Uint8Array> = {
      'bounding_box_train/0001_c1s1_000001_00.png': png(10),
      'bounding_box_train/0001_c2s1_000001_00.png': png(20),
      'query/0002_c1s1_000001_00.png': png(30),
      'bounding_box_test/0002_c2s1_000001_00.png': png(40),
      'bounding_box_test/0003_c2s1_000001_00.png': png(50),
      'bounding_box_test/0002_c3s1_000002_00.jpg': new Uint8Array(80 << 20),
    };
    writeFileSync(path.join(tmp, 'bomb.zip'), zipSync(files, { level: 1 }));
    const r = await lab(['eval', '--model', 'model', '--data', 'bomb.zip', '--json'], tmp, TIME_CAP_S);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('declares 83886080 bytes uncompressed');
    expect(JSON.parse(r.stdout).numGallery).toBe(2);
    expect(r.maxRssKb).toBeLessThan(RSS_CAP_KB);
  });
});

describe('item 14: --model opens a .safetensors file and says what it assumed', () => {
  it('a file without metadata: a notice about the last stride; --last-stride 2 is used', async () => {
    const spec = buildSpec({ depth: 18, widthMultiplier: 0.125, inputHeight: 64, inputWidth: 32 });
    const m = ReidModel.init(spec, 1);
    const sd = modelToStateDict(spec, await m.toArrays(), 'lab');
    m.dispose();
    writeFileSync(path.join(tmp, 'bare.safetensors'), writeSafetensors([...sd].map(([name, t]) => ({ name, dtype: 'F32' as const, shape: t.shape, bytes: new Uint8Array(t.values.buffer, t.values.byteOffset, t.values.byteLength) })), { input_size: '64x32' }));
    const plain = await lab(['info', '--model', 'bare.safetensors'], tmp, TIME_CAP_S);
    expect(plain.code, plain.stderr).toBe(0);
    expect(plain.stderr).toMatch(/notice: The file does not state the last stride .* assumed 1.*\(--last-stride 1\|2\)/);
    expect(plain.stdout).toContain('input 64x32, last stride 1');
    const two = await lab(['info', '--model', 'bare.safetensors', '--last-stride', '2'], tmp, TIME_CAP_S);
    expect(two.code, two.stderr).toBe(0);
    expect(two.stderr).not.toContain('notice: The file does not state the last stride');
    expect(two.stdout).toContain('last stride 2');
  });
});
