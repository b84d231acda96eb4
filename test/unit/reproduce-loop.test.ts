/**
 * The reproduction's cell loop (engine/scenarios/reproduce.ts) on tiny ResNets and SynthReID XS
 * at 64x32, one seed, two steps: every runnable cell runs with the same fine-tuning budget and
 * the pruned rows land on ResNet-18's MACs (checked against the cost model directly); a row
 * whose zoo model is missing is reported, not run; a second run resumes from the cache and runs
 * only the missing cells; a cancel stops between cells and keeps what finished; without
 * ResNet-50 nothing runs. `lab reproduce --json-out` writes a file parseReproduction reads back.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/engine/backend/init';
import { buildSpec, type Depth } from '../../src/engine/model/spec';
import { ReidModel } from '../../src/engine/model/model';
import { modelCost } from '../../src/engine/cost/macs';
import { generateSynthReid } from '../../src/engine/data/synth';
import type { ReidDataset } from '../../src/engine/data/types';
import { isLabError } from '../../src/engine/errors';
import { memoryCache, runReproduction, weightsFingerprint, type ReproduceInput, type ZooModel } from '../../src/engine/scenarios/reproduce';
import { reproduceSettings, selectRows, type ZooDepth } from '../../src/engine/scenarios/reproduce-plan';
import { parseReproduction } from '../../src/engine/scenarios/reproduction-json';
import { saveModelToFolder } from '../../src/node/model-files';
import { parseFlags } from '../../src/cli/args';
import { reproduceCommand } from '../../src/cli/commands/reproduce';

const H = 64;
const W = 32;
const spec = (depth: Depth) => buildSpec({ depth, widthMultiplier: 0.125, inputHeight: H, inputWidth: W });
let target: ReidDataset;
let source: ReidDataset;
let tmp: string;

beforeAll(async () => {
  await initBackend('wasm');
  target = generateSynthReid({ tier: 'XS', domain: 'target', height: H, width: W }).dataset;
  source = generateSynthReid({ tier: 'XS', domain: 'source', height: H, width: W }).dataset;
  tmp = mkdtempSync(path.join(os.tmpdir(), 'lab-repro-'));
});

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const settings = reproduceSettings({ quick: true, tier: 'XS', seeds: 1, steps: 2, p: 4, k: 2, fineTuneIds: 6, imagesPerId: 2, evalIds: 0 });

/** Tiny models by depth (fresh each call: the loop disposes what it loads); `missing` depths return null. */
function input(rows: string[], cache: ReturnType<typeof memoryCache>, missing: ZooDepth[] = [], loads: string[] = []): ReproduceInput {
  return {
    rows: selectRows(true, rows),
    settings,
    cache,
    loadModel: async (d): Promise<ZooModel | null> => {
      if (missing.includes(d)) return null;
      const model = ReidModel.init(spec(d), 100 + d);
      return { model, fingerprint: await weightsFingerprint(model) };
    },
    loadData: async (need) => {
      loads.push(`${need.source ? 'source+' : ''}target ${need.height}x${need.width}`);
      return { target, ...(need.source ? { source } : {}) };
    },
  };
}

describe('the reproduction loop', () => {
  const cache = memoryCache();
  let first: Awaited<ReturnType<typeof runReproduction>>;

  it('runs every runnable cell with equal budgets, prunes to ResNet-18 MACs, reports the missing row', async () => {
    const base = tf.memory().numTensors;
    const loads: string[] = [];
    const started: string[] = [];
    first = await runReproduction(input(['resnet50', 'resnet34', 'resnet18', 'haoli', 'molchanov-source'], cache, [34], loads), { onCellStart: (c) => started.push(c.row.id) });
    expect(tf.memory().numTensors).toBe(base);
    // The source is generated because a row prunes at the source; at the models' input size.
    expect(loads).toEqual([`source+target ${H}x${W}`]);
    expect(started).toEqual(['resnet50', 'resnet18', 'haoli', 'molchanov-source']);
    expect(first.cells).toBe(4);
    expect(first.ran).toBe(4);
    expect(first.reused).toBe(0);
    expect(first.missingRows).toEqual(['resnet34']);
    expect(first.missingDepths).toEqual([34]);
    expect(first.notes.join(' ')).toContain('resnet34-w0.5-v2 is not in the zoo yet');
    // One summary per planned row, in the plan's order; the missing one has no runs.
    expect(first.summaries.map((s) => [s.row.id, s.n])).toEqual([['resnet50', 1], ['resnet34', 0], ['resnet18', 1], ['haoli', 1], ['molchanov-source', 1]]);
    expect(first.verdicts).toHaveLength(3);
    // Equal fine-tuning budget: steps x P x K images in every cell, whatever the scenario.
    for (const s of first.summaries.filter((x) => x.n > 0)) expect(s.imagesSeen).toEqual([2 * 4 * 2]);
    // The cost target, from the two specs directly.
    const r18 = modelCost(spec(18)).macs;
    expect(first.macsKeep).toBeCloseTo(r18 / modelCost(spec(50)).macs, 12);
    for (const id of ['haoli', 'molchanov-source']) {
      const macs = first.summaries.find((s) => s.row.id === id)!.macs.mean;
      expect(Math.abs(macs / r18 - 1)).toBeLessThanOrEqual(0.02);
    }
    expect(cache.cells.size).toBe(4);
    // Each zoo model is scored before fine-tuning once, and cached.
    expect(cache.before.size).toBe(2);
  });

  it('resumes from the cache: only the cell that is not stored runs, the others come back as stored', async () => {
    const haoliKey = [...cache.cells.keys()].find((k) => k.startsWith('haoli/'))!;
    cache.cells.delete(haoliKey);
    const started: string[] = [];
    const again = await runReproduction(input(['resnet50', 'resnet34', 'resnet18', 'haoli', 'molchanov-source'], cache, [34]), { onCellStart: (c) => started.push(c.row.id) });
    expect(started).toEqual(['haoli']);
    expect(again.ran).toBe(1);
    expect(again.reused).toBe(3);
    for (const id of ['resnet50', 'resnet18', 'molchanov-source']) {
      expect(again.summaries.find((s) => s.row.id === id)!.after).toEqual(first.summaries.find((s) => s.row.id === id)!.after);
    }
    expect(cache.cells.has(haoliKey)).toBe(true);
  });

  it('a cancel stops before the next cell, keeps the finished one, and the next run finishes the rest', async () => {
    const c = memoryCache();
    const signal = { aborted: false };
    const stopped = await runReproduction(input(['resnet18', 'resnet50'], c), { signal, onCellDone: () => (signal.aborted = true) });
    expect(stopped.cancelled).toBe(true);
    expect([stopped.ran, stopped.notRun]).toEqual([1, 1]);
    expect(stopped.notes.join(' ')).toContain('1 of 2 cells have not run yet');
    expect(c.cells.size).toBe(1);
    const progress: number[] = [];
    const resumed = await runReproduction(input(['resnet18', 'resnet50'], c), { onProgress: (p) => progress.push(p.fraction) });
    expect([resumed.ran, resumed.reused, resumed.notRun, resumed.cancelled]).toEqual([1, 1, 0, false]);
    // Progress counts only the cell left to run, and ends at 1.
    expect(progress.at(-1)).toBe(1);
    expect(Math.min(...progress)).toBe(0);
  });

  it('cachedOnly runs nothing, reports the cached cells, and names the rows short of seeds', async () => {
    // Two seeds planned; the cache holds resnet18 for both, resnet50 for seed 1 only.
    const two = { ...settings, seeds: [1, 2] };
    const c = memoryCache();
    const full = await runReproduction({ ...input(['resnet18', 'resnet50'], c), settings: two });
    expect(full.ran).toBe(4);
    const dropped = [...c.cells.keys()].find((k) => k.startsWith('resnet50/seed2/'))!;
    c.cells.delete(dropped);
    const started: string[] = [];
    const loads: string[] = [];
    const out = await runReproduction({ ...input(['resnet18', 'resnet50', 'haoli-source'], c, [], loads), settings: two, cachedOnly: true }, { onCellStart: (x) => started.push(x.row.id) });
    expect(started).toEqual([]);
    // Nothing runs, so the source domain (needed only to prune at the source) is not generated.
    expect(loads).toEqual([`target ${H}x${W}`]);
    expect([out.ran, out.reused, out.notRun]).toEqual([0, 3, 3]);
    expect(out.summaries.map((x) => [x.row.id, x.n])).toEqual([['resnet50', 1], ['resnet18', 2], ['haoli-source', 0]]);
    expect(out.summaries.find((x) => x.row.id === 'resnet18')!.after).toEqual(full.summaries.find((x) => x.row.id === 'resnet18')!.after);
    expect(out.notes.join(' ')).toContain('Reported from the cache only: 3 of 6 planned cells were not run. Rows with fewer seeds than planned: ResNet-50 (1 of 2), Hao Li, pruned at the source (0 of 2).');
    expect(c.cells.has(dropped)).toBe(false);
  });

  it('a cancel still collects the cached cells that come after it', async () => {
    const two = { ...settings, seeds: [1, 2] };
    const c = memoryCache();
    await runReproduction({ ...input(['resnet18'], c), settings: two });
    const seed1 = [...c.cells.keys()].find((k) => k.startsWith('resnet18/seed1/'))!;
    c.cells.delete(seed1);
    // Cancelled as seed 1 starts: its work is dropped, seed 2 still comes from the cache.
    const signal = { aborted: false };
    const out = await runReproduction({ ...input(['resnet18'], c), settings: two }, { signal, onCellStart: () => (signal.aborted = true) });
    expect([out.cancelled, out.ran, out.reused, out.notRun]).toEqual([true, 0, 1, 1]);
    expect(out.summaries[0].n).toBe(1);
  });

  it("v2's ResNet-34 rows prune ResNet-34 to ResNet-18's MACs; v1's plan does not have them", async () => {
    const out = await runReproduction(input(['resnet18', 'haoli-r34'], memoryCache()));
    expect(out.ran).toBe(2);
    const r18 = modelCost(spec(18)).macs;
    const pruned = out.summaries.find((s) => s.row.id === 'haoli-r34')!;
    expect(pruned.n).toBe(1);
    expect(Math.abs(pruned.macs.mean / r18 - 1)).toBeLessThanOrEqual(0.02);
    // ResNet-50's own target is unchanged by the ResNet-34 row.
    expect(out.macsKeep).toBeCloseTo(r18 / modelCost(spec(50)).macs, 12);
    expect(selectRows(false, undefined, 'v1').map((r) => r.id)).not.toContain('haoli-r34');
    expect(selectRows(false, undefined, 'v2').map((r) => r.id)).toEqual(expect.arrayContaining(['haoli-r34', 'molchanov-r34']));
  });

  it('measures the cut alone (pruned to ResNet-18 MACs, no fine-tuning) once, caches it, even with cachedOnly', async () => {
    const c = memoryCache();
    const first = await runReproduction({ ...input(['resnet18', 'haoli'], c), measureCuts: ['haoli', 'molchanov'] });
    // Only asked-for rows that are in the plan: molchanov is not among the rows, so no cut for it.
    expect(first.cuts.map((x) => x.rowId)).toEqual(['haoli']);
    const cut = first.cuts[0];
    const r18 = modelCost(spec(18)).macs;
    expect(Math.abs(cut.cut.macs / r18 - 1)).toBeLessThanOrEqual(0.02);
    // The dense snapshot is the zoo model's score before fine-tuning: the cell's own "before".
    expect(cut.dense.rank1).toBe(first.summaries.find((s) => s.row.id === 'haoli')!.before.rank1.mean / 100);
    expect(cut.cut.rank1).toBeGreaterThanOrEqual(0);
    expect(cut.cut.rank1).toBeLessThanOrEqual(1);
    const cutKeys = [...c.before.keys()].filter((k) => k.startsWith('cut/'));
    expect(cutKeys).toHaveLength(1);
    // Again, from the cache only: nothing runs, the same cut comes back.
    const again = await runReproduction({ ...input(['resnet18', 'haoli'], c), measureCuts: ['haoli'], cachedOnly: true });
    expect(again.ran).toBe(0);
    expect(again.cuts[0].cut).toEqual(cut.cut);
  });

  it('without ResNet-50 nothing runs and every row says why', async () => {
    const loads: string[] = [];
    const out = await runReproduction(input(['resnet50', 'resnet18', 'haoli'], memoryCache(), [50], loads));
    expect(loads).toEqual([]);
    expect(out.cells).toBe(0);
    expect(out.missingRows).toEqual(['resnet50', 'resnet18', 'haoli']);
    expect(out.notes[0]).toMatch(/needs resnet50-w0\.5-v2 .* no cell was run/);
    expect(out.verdicts.map((v) => v.verdict)).toEqual(['inconclusive', 'inconclusive', 'inconclusive']);
  });
});

describe('lab reproduce --json-out', () => {
  it('writes the results as JSON that the page can read back (rows not run keep their NaN means)', async () => {
    const zoo = path.join(tmp, 'zoo');
    for (const d of [18, 50] as const) {
      const m = ReidModel.init(spec(d), d);
      await saveModelToFolder(m, path.join(zoo, `resnet${d}-w0.5-v2`));
      m.dispose();
    }
    const json = path.join(tmp, 'out', 'reproduction.json');
    const args = ['--zoo', zoo, '--tier', 'XS', '--seeds', '1', '--steps', '1', '--p', '3', '--k', '2', '--ids', '4', '--images-per-id', '2', '--eval-ids', '0', '--rows', 'resnet18,resnet34', '--cache', path.join(tmp, 'c.json'), '--out', path.join(tmp, 'r.md'), '--json-out', json];
    const out = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      await reproduceCommand(parseFlags(args), args);
    } finally {
      out.mockRestore();
      err.mockRestore();
    }
    const text = readFileSync(json, 'utf8');
    expect(text).not.toContain('NaN');
    const rec = parseReproduction(text);
    expect(rec.seeds).toEqual([1]);
    expect(rec.tier).toBe('XS');
    expect(rec.command).toContain('--json-out');
    expect(rec.rows.map((r) => [r.row.id, r.n])).toEqual([['resnet34', 0], ['resnet18', 1]]);
    expect(rec.rows[0].after.rank1.mean).toBeNaN();
    expect(rec.rows[1].after.rank1.mean).toBeGreaterThanOrEqual(0);
    expect(rec.rows[1].imagesSeen).toEqual([1 * 3 * 2]);
    expect(rec.verdicts).toHaveLength(3);
    expect(rec.notes.join(' ')).toContain('resnet34-w0.5-v2 is missing');
  });

  it('a file that is not a reproduction is refused with a sentence', () => {
    const head = { format: 'prunability-lab/reproduction@1', date: 'x', machine: 'm', command: 'c', seeds: [1], budget: {}, verdicts: [] };
    for (const [bad, why] of [
      ['not json', 'it is not JSON'],
      ['{"format":"something-else"}', 'its format is "something-else"'],
      [JSON.stringify({ ...head, rows: [{}] }), 'row 1 has no row id and label'],
      [JSON.stringify({ ...head, rows: [{ row: { id: 'a', label: 'A', scenario: 'prune-twice' } }] }), 'row 1 names no known scenario ("prune-twice")'],
    ]) {
      let e: unknown;
      try {
        parseReproduction(bad);
      } catch (x) {
        e = x;
      }
      expect(isLabError(e, 'bad-argument')).toBe(true);
      expect((e as Error).message).toMatch(/^The reproduction results file is not one the lab can read: .+\.$/);
      expect((e as Error).message).toContain(why);
    }
  });
});
