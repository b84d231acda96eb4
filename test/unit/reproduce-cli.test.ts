/**
 * The CLI's prune, finetune and reproduce commands end to end on tiny model folders written to a
 * temp dir (SynthReID XS at 64x32): they write loadable models whose cost matches the target,
 * print before/after numbers, and reproduce caches every cell so a second run reuses them all;
 * a missing zoo model is a clear error that names it and the command that makes it.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/engine/backend/init';
import { buildSpec, type Depth } from '../../src/engine/model/spec';
import { ReidModel } from '../../src/engine/model/model';
import { modelCost } from '../../src/engine/cost/macs';
import { isLabError } from '../../src/engine/errors';
import { loadModelFromFolder, saveModelToFolder } from '../../src/node/model-files';
import { parseFlags } from '../../src/cli/args';
import { pruneCommand } from '../../src/cli/commands/prune';
import { finetuneCommand } from '../../src/cli/commands/finetune';
import { readCache, reproduceCommand, writeCache, type CacheFile } from '../../src/cli/commands/reproduce';
import { parseReproductions } from '../../src/engine/scenarios/reproduction-json';

let tmp: string;

async function writeTiny(dir: string, depth: Depth, seed: number): Promise<ReidModel> {
  const m = ReidModel.init(buildSpec({ depth, widthMultiplier: 0.125, inputHeight: 64, inputWidth: 32 }), seed);
  await saveModelToFolder(m, dir);
  return m;
}

/** Run a command with its stdout captured (stderr progress is silenced). */
async function run(cmd: (f: ReturnType<typeof parseFlags>, argv: string[]) => Promise<void>, args: string[]): Promise<string> {
  let text = '';
  const out = vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => ((text += String(s)), true));
  const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
  try {
    await cmd(parseFlags(args), args);
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
  return text;
}

beforeAll(async () => {
  await initBackend('wasm');
  tmp = mkdtempSync(path.join(os.tmpdir(), 'lab-cli-'));
});

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('lab prune and lab finetune', () => {
  it('prune to half the MACs with fine-tuning writes a smaller model and prints before/after', async () => {
    const src = path.join(tmp, 'r50');
    const m = await writeTiny(src, 50, 1);
    const full = modelCost(m.spec).macs;
    m.dispose();
    const out = path.join(tmp, 'r50-pruned');
    const base = tf.memory().numTensors;
    const text = await run(pruneCommand, ['--model', src, '--criterion', 'l1', '--macs-target', '0.5', '--finetune-steps', '2', '--tier', 'XS', '--ids', '6', '--images-per-id', '2', '--p', '3', '--k', '2', '--out', out]);
    expect(tf.memory().numTensors).toBe(base);
    const { model } = await loadModelFromFolder(out);
    const macs = modelCost(model.spec).macs;
    expect(Math.abs(macs / full - 0.5)).toBeLessThanOrEqual(0.005);
    model.dispose();
    expect(text).toMatch(/MACs .*->/);
    expect(text).toMatch(/mAP\s+\d+\.\d+%\s+->\s+\d+\.\d+%/);
    expect(text).toContain('12 fine-tuning images seen');
    const card = JSON.parse(readFileSync(path.join(out, 'card.json'), 'utf8'));
    expect(card.macs).toBe(macs);
    expect(card.pruning.criterion).toBe('l1');
    expect(card.derivedFrom).toBe(src);
  });

  it('prune with PSFP and a rate; a data-driven criterion scores on the train split', async () => {
    const src = path.join(tmp, 'r18');
    const m = await writeTiny(src, 18, 2);
    m.dispose();
    const t1 = await run(pruneCommand, ['--model', src, '--strategy', 'psfp', '--rate', '0.25', '--finetune-steps', '2', '--tier', 'XS', '--ids', '4', '--images-per-id', '2', '--p', '2', '--k', '2', '--no-eval', '--out', path.join(tmp, 'r18-psfp')]);
    expect(t1).toContain('psfp');
    const t2 = await run(pruneCommand, ['--model', src, '--criterion', 'taylor', '--rate', '0.25', '--criterion-batches', '1', '--criterion-batch-size', '8', '--tier', 'XS', '--ids', '4', '--images-per-id', '2', '--no-eval', '--out', path.join(tmp, 'r18-taylor')]);
    expect(t2).toContain('no fine-tuning');
    const card = JSON.parse(readFileSync(path.join(tmp, 'r18-taylor', 'card.json'), 'utf8'));
    expect(card.pruning.criterionData).toMatch(/train split/);
  });

  it('refuses two targets, or none, with a sentence', async () => {
    const src = path.join(tmp, 'r18');
    for (const args of [['--rate', '0.3', '--macs-target', '0.5'], []]) {
      let err: unknown;
      try {
        await run(pruneCommand, ['--model', src, ...args, '--tier', 'XS', '--out', path.join(tmp, 'x')]);
      } catch (e) {
        err = e;
      }
      expect(isLabError(err, 'bad-argument')).toBe(true);
      expect((err as Error).message).toMatch(/exactly one pruning target/);
    }
  });

  it('finetune trains on the subset and writes a model whose weights changed', async () => {
    const src = path.join(tmp, 'r18');
    const out = path.join(tmp, 'r18-ft');
    const text = await run(finetuneCommand, ['--model', src, '--tier', 'XS', '--domain', 'target', '--ids', '6', '--images-per-id', '2', '--steps', '2', '--p', '3', '--k', '2', '--out', out]);
    expect(text).toContain('12 images seen');
    expect(text).toMatch(/rank-1\s+\d/);
    const a = await loadModelFromFolder(src);
    const b = await loadModelFromFolder(out);
    const wa = (await a.model.toArrays()).get('layer1.0.conv1.weight')!;
    const wb = (await b.model.toArrays()).get('layer1.0.conv1.weight')!;
    expect(wa.some((v, i) => v !== wb[i])).toBe(true);
    expect(modelCost(b.model.spec).macs).toBe(modelCost(a.model.spec).macs);
    a.model.dispose();
    b.model.dispose();
  });
});

describe('lab reproduce', () => {
  it('a --reading file that cannot be read is a sentence naming it, before any work', async () => {
    const missing = path.join(tmp, 'no-such-reading.md');
    await expect(run(reproduceCommand, ['--quick', '--zoo', path.join(tmp, 'empty-zoo'), '--reading', missing])).rejects.toSatisfy(
      (e: unknown) => isLabError(e, 'bad-argument') && (e as Error).message.includes(`The --reading file ${missing} cannot be read`),
    );
  });

  it("names a missing zoo model and the command that makes it, in the regime's zoo", async () => {
    const failure = async (extra: string[]) => {
      try {
        await run(reproduceCommand, ['--quick', '--zoo', path.join(tmp, 'empty-zoo'), ...extra]);
      } catch (e) {
        return e;
      }
      return undefined;
    };
    const v1 = await failure(['--regime', 'v1']);
    expect(isLabError(v1, 'bad-model-file')).toBe(true);
    expect((v1 as Error).message).toContain('resnet18-w0.5 and resnet50-w0.5 in');
    expect((v1 as Error).message).toContain('lab -- train --depth 50');
    // v2 (the default) looks for the v2 folders and names the companion's recipe.
    const v2 = await failure([]);
    expect(isLabError(v2, 'bad-model-file')).toBe(true);
    expect((v2 as Error).message).toContain('resnet18-w0.5-v2 and resnet50-w0.5-v2 in');
    expect((v2 as Error).message).toContain('bash scripts/zoo-v2.sh resnet50-w0.5');
    expect(isLabError(await failure(['--regime', 'v3']), 'bad-argument')).toBe(true);
  });

  it('runs the cells, caches each one, and a second run reuses them all', async () => {
    const zoo = path.join(tmp, 'zoo');
    (await writeTiny(path.join(zoo, 'resnet50-w0.5'), 50, 3)).dispose();
    (await writeTiny(path.join(zoo, 'resnet18-w0.5'), 18, 4)).dispose();
    const cache = path.join(tmp, 'rep', 'results.json');
    const report = path.join(tmp, 'rep', 'REPRODUCTION.md');
    const args = ['--zoo', zoo, '--regime', 'v1', '--tier', 'XS', '--seeds', '2', '--steps', '2', '--p', '4', '--k', '2', '--ids', '6', '--images-per-id', '2', '--eval-ids', '0', '--rows', 'resnet50,resnet18,haoli,molchanov-source', '--cache', cache, '--out', report];
    const first = await run(reproduceCommand, args);
    expect(first).toMatch(/Ran 8 new cell\(s\)/);
    const stored = JSON.parse(readFileSync(cache, 'utf8'));
    expect(Object.keys(stored.cells)).toHaveLength(8);
    const second = await run(reproduceCommand, args);
    expect(second).toMatch(/Ran 0 new cell\(s\).*8 reused/);
    const md = readFileSync(report, 'utf8');
    expect(md).toContain('## Table 5, side by side');
    expect(md).toMatch(/### Claim 1: (HOLDS|DOES NOT HOLD|INCONCLUSIVE)/);
    // ResNet-34 was not asked for: its row is absent; the asked rows ran with 2 seeds.
    expect(md).toMatch(/\| Hao Li \(l1\) \(HaoLi\) \| 2 \|.*\| 2 \|$/m);
    // Equal budgets across rows: every cell saw the same number of training images.
    const seen = new Set(Object.values(stored.cells as Record<string, { result: { imagesSeen: number } }>).map((c) => c.result.imagesSeen));
    expect([...seen]).toEqual([2 * 4 * 2]);
    expect(readdirSync(path.dirname(cache)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    // --from-cache with a third seed planned runs nothing and says which rows are short of seeds.
    const third = await run(reproduceCommand, [...args.map((a, i) => (args[i - 1] === '--seeds' ? '3' : a)), '--from-cache']);
    expect(third).toMatch(/Ran 0 new cell\(s\).*8 reused/);
    expect(Object.keys(JSON.parse(readFileSync(cache, 'utf8')).cells)).toHaveLength(8);
    const fromCache = readFileSync(report, 'utf8');
    // Its Commands section gives the command that runs the 4 missing cells: the same without --from-cache.
    expect(fromCache).toContain(`# run the main table's cells this report lacks`);
    // The quick run's description comes from its settings (1 seed, 8 steps, 30 test ids, 6 rows).
    expect(fromCache).toContain('# quick look: 1 seed, 8 fine-tuning steps, 30 test identities, 6 rows (indicative only)\nnpm run lab -- reproduce --quick\n');
    expect(fromCache).toContain(`\nnpm run lab -- ${args.map((a, i) => (args[i - 1] === '--seeds' ? '3' : a)).join(' ')}\n`);
    expect(fromCache).toContain('**Partial: 8 of 12 planned cells have run;');
    expect(fromCache).toContain('Reported from the cache only: 4 of 12 planned cells were not run. Rows with fewer seeds than planned: ResNet-50 (2 of 3), ResNet-18 (2 of 3), Hao Li (l1) (2 of 3), Molchanov, pruned at the source (2 of 3).');
  });

  it('--sweep reports other budgets from the cache; --compare sets another regime beside this one, in the report and the JSON', async () => {
    // The zoo and cache of the test above (2 seeds of 4 rows at 2 steps).
    const zoo = path.join(tmp, 'zoo');
    const cache = path.join(tmp, 'rep', 'results.json');
    const base = ['--zoo', zoo, '--regime', 'v1', '--tier', 'XS', '--seeds', '2', '--p', '4', '--k', '2', '--ids', '6', '--images-per-id', '2', '--eval-ids', '0', '--cache', cache];
    // The sweep's cells: the headline rows at 3 steps.
    const swept = await run(reproduceCommand, [...base, '--steps', '3', '--rows', 'resnet50,haoli', '--out', path.join(tmp, 'rep', 'sweep.md')]);
    expect(swept).toMatch(/Ran 4 new cell\(s\)/);
    const v1json = path.join(tmp, 'rep', 'v1.json');
    const rows = ['--rows', 'resnet50,resnet18,haoli,molchanov-source'];
    await run(reproduceCommand, [...base, '--steps', '2', ...rows, '--from-cache', '--out', path.join(tmp, 'rep', 'v1.md'), '--json-out', v1json]);
    const both = path.join(tmp, 'rep', 'both.json');
    const report = path.join(tmp, 'rep', 'both.md');
    const planFile = path.join(tmp, 'rep', 'plan.md');
    writeFileSync(planFile, '# The plan\n\nFixed on 2026-12-07.\n\n## Rows\n\nAll of them.\n');
    // 3 steps at --seeds (2) seeds, 9 steps at 1 seed.
    const out = await run(reproduceCommand, [...base, '--steps', '2', ...rows, '--from-cache', '--sweep', '3,9:1', '--compare', v1json, '--plan', planFile, '--out', report, '--json-out', both]);
    expect(out).toMatch(/Ran 0 new cell\(s\)/);
    const recs = parseReproductions(readFileSync(both, 'utf8'));
    expect(recs).toHaveLength(2);
    expect(recs[0].regime?.id).toBe('v1');
    // Sweep: 3 steps has both rows at 2 seeds; 9 steps was never run (n = 0).
    expect(recs[0].sweep!.map((p) => [p.steps, p.rows.map((r) => `${r.row.id}:${r.n}`).join(',')])).toEqual([[3, 'resnet50:2,haoli:2'], [9, 'resnet50:0,haoli:0']]);
    // The preconditions: ResNet-50 vs ResNet-18 judged; the cut of Hao Li measured; the budget from the tiny cards (none: not known).
    expect(recs[0].preconditions!.map((p) => p.id)).toEqual(['resnet50-stronger', 'cut-drop', 'budget']);
    expect(recs[0].preconditions![1].evidence[0]).toMatch(/^Hao Li \(l1\): ResNet-50 rank-1 /);
    const md = readFileSync(report, 'utf8');
    expect(md).toContain('## Plan\n\nFixed on 2026-12-07.\n\n### Rows\n\nAll of them.\n\n## Setup');
    expect(md).toContain("Engine: the lab's own trainer and evaluator");
    expect(md).toContain('## Preconditions');
    expect(md).toMatch(/Rests on: Dense ResNet-50 is stronger than dense ResNet-18/);
    expect(md).toContain('## Recovery budget sweep');
    expect(md).toContain('| 2 steps (16 images) | 3 steps (24 images) | 9 steps (72 images) |');
    // The sweep's cells are planned cells: 4 rows x 2 seeds at 2 steps, 2 rows x 2 seeds at 3, 2 rows x 1 seed at 9 (not run).
    expect(md).toContain('**Partial: 12 of 14 planned cells have run (the budget sweep: 4 of 6);');
    expect(md).toContain(`--seeds 1 --steps 9 --rows resnet50,haoli --cache ${cache} --out runs/reproduce-v1/sweep-9.md`);
    expect(md).toContain("# the budget sweep's cells at 3 steps (2 seeds; resumable)");
    expect(md).toContain('## Both regimes');
    expect(md).toContain('| Claim 1 |');
    await expect(run(reproduceCommand, [...base, '--steps', '2', ...rows, '--from-cache', '--sweep', '3,x', '--out', report])).rejects.toSatisfy((e: unknown) => isLabError(e, 'bad-argument') && (e as Error).message.includes('"x" is not one'));
    for (const bad of ['3:0', '3:', '9:1:2', '-3']) {
      await expect(run(reproduceCommand, [...base, '--steps', '2', ...rows, '--from-cache', '--sweep', bad, '--out', report])).rejects.toSatisfy((e: unknown) => isLabError(e, 'bad-argument') && (e as Error).message.includes(`"${bad}" is not one`));
    }
    await expect(run(reproduceCommand, [...base, '--steps', '2', ...rows, '--from-cache', '--compare', path.join(tmp, 'nope.json'), '--out', report])).rejects.toSatisfy((e: unknown) => isLabError(e, 'bad-argument') && (e as Error).message.includes('--compare file'));
  });

  it('two processes sharing one cache file keep each other\'s cells', async () => {
    const file = path.join(tmp, 'shared', 'cache.json');
    const empty = (): CacheFile => ({ format: 'prunability-lab/reproduce-cache@1', cells: {}, before: {} });
    const cell = (text: string) => ({ text, result: {} as CacheFile['cells'][string]['result'] });
    // Both read the file before either wrote; each then stores its own cell.
    const a = empty();
    const b = empty();
    a.cells['haoli/seed1/x'] = cell('a');
    await writeCache(file, a);
    b.cells['molchanov/seed1/y'] = cell('b');
    b.before['resnet50'] = { macs: 1, params: 2, mAP: 0.1, rank1: 0.2, rank5: 0.3 };
    await writeCache(file, b);
    // A writes again (its memory lacks B's cell): B's cell survives, and A's own entry wins over a stale one.
    a.cells['molchanov/seed1/y'] = cell('a-newer');
    a.cells['psfp/seed1/z'] = cell('a2');
    await writeCache(file, a);
    const onDisk = await readCache(file);
    expect(Object.keys(onDisk.cells).sort()).toEqual(['haoli/seed1/x', 'molchanov/seed1/y', 'psfp/seed1/z']);
    expect(onDisk.cells['molchanov/seed1/y'].text).toBe('a-newer');
    expect(onDisk.before['resnet50'].rank1).toBe(0.2);
    expect(readdirSync(path.dirname(file))).toEqual(['cache.json']);
  });
});
