/**
 * `lab reproduce`: the lab-scale analogue of the paper's Table 5 and a verdict on each of its
 * claims (src/engine/scenarios/reproduce-plan.ts says what runs, report.ts how it is judged).
 *
 * Inputs are the zoo's model folders (--zoo, default public/models: resnet{18,34,50}-w0.5).
 * Resumable: each (row, seed) cell's result is stored in --cache (default
 * runs/reproduce/results.json) as soon as it finishes, under a key of everything that decides
 * it (settings, seed, a fingerprint of the model's files), and reused on the next run.
 * Ctrl-C stops after saving the finished cells. Processes running different --rows may share one
 * cache file: each write first takes in what the others stored. The cell loop itself is the engine's
 * (src/engine/scenarios/reproduce.ts), shared with the lab page; this file keeps the files.
 * --json-out FILE also writes the results as JSON (reproduction-json.ts), e.g.
 * public/reproduction.json, which the lab page shows when present. --charts DIR links the PNG charts
 * that `npm run repro-charts -- --out <report's folder>/DIR` draws from that JSON.
 * --reading FILE adds a Markdown section "Reading these results" after the verdicts (the authors'
 * interpretation, kept when the report is regenerated).
 * --from-cache runs no cell and reports what the cache holds (e.g. 3 seeds for the headline rows,
 * 1 for the others); the report's notes name the rows with fewer seeds.
 */
import { existsSync, promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as os from 'node:os';
import * as tf from '@tensorflow/tfjs';
import { LabError } from '../../engine/errors';
import { generateSynthReid } from '../../engine/data/synth';
import type { ReidDataset } from '../../engine/data/types';
import { formatMacs } from '../../engine/cost/macs';
import type { ScenarioResult, Snapshot } from '../../engine/scenarios/types';
import { REQUIRED_DEPTHS, DEFAULT_REGIME, regimeOf, reproduceSettings, selectRows, zooName, type Regime, type ReproduceRow, type ReproduceSettings, type ZooDepth } from '../../engine/scenarios/reproduce-plan';
import { claimVerdicts, renderReproduction, summarizeRow } from '../../engine/scenarios/report';
import { runReproduction, type ReproduceCache } from '../../engine/scenarios/reproduce';
import { reproductionCharts } from '../../engine/scenarios/reproduction-charts';
import { REPRODUCTION_FORMAT, parseReproductions, reproductionToJson, reproductionsToJson, type ReproductionRecord, type SweepPoint } from '../../engine/scenarios/reproduction-json';
import { preconditions, renderPreconditions, restsOn, trainingImagesOf } from '../../engine/scenarios/preconditions';
import { SWEEP_ROW_IDS, renderSweep, sweepCostRows, sweepPoints } from '../../engine/scenarios/sweep-report';
import { renderRegimes } from '../../engine/scenarios/regime-report';
import { loadModelFromFolder, modelFolder, MODEL_JSON } from '../../node/model-files';
import { readBounded, readTextBounded } from '../../node/bounded-read';
import { checkOutputFile, writeFileAtomically } from '../../node/output-folder';
import { ProgressBar, formatSeconds } from '../progress';
import { bool, num, oneOf, optStr, str, type Flags } from '../args';

interface CacheEntry {
  text: string;
  result: ScenarioResult;
}

export interface CacheFile {
  format: 'prunability-lab/reproduce-cache@1';
  cells: Record<string, CacheEntry>;
  before: Record<string, Snapshot>;
}

export async function readCache(file: string): Promise<CacheFile> {
  if (!existsSync(file)) return { format: 'prunability-lab/reproduce-cache@1', cells: {}, before: {} };
  try {
    const c = JSON.parse(await readTextBounded(file, 256 << 20, 'bad-argument', 'The results cache')) as CacheFile;
    if (c.format !== 'prunability-lab/reproduce-cache@1') throw new Error('unknown format');
    return c;
  } catch (e) {
    throw new LabError('bad-argument', `The results cache ${file} cannot be read (${(e as Error).message}); move it away to start afresh.`);
  }
}

/**
 * Write the cache, first taking in what another process running on the same file has stored
 * since (so runs split across processes with --rows can share one --cache file). Atomic per
 * write: a per-process temp file renamed over the cache.
 */
export async function writeCache(file: string, c: CacheFile): Promise<void> {
  if (existsSync(file)) {
    const onDisk = await readCache(file).catch(() => undefined);
    for (const [k, v] of Object.entries(onDisk?.cells ?? {})) c.cells[k] ??= v;
    for (const [k, v] of Object.entries(onDisk?.before ?? {})) c.before[k] ??= v;
  }
  await fs.mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  await fs.writeFile(tmp, JSON.stringify(c) + '\n');
  await fs.rename(tmp, file);
}

/** FNV-1a over model.json and every file it lists: a retrained zoo model gets a new fingerprint. */
async function fingerprint(dir: string): Promise<string> {
  let h = 0x811c9dc5;
  const eat = (b: Uint8Array) => {
    for (let i = 0; i < b.length; i++) h = Math.imul(h ^ b[i], 0x01000193);
  };
  // Through the model-folder reader: shard paths stay inside the folder, reads are bounded.
  const artifacts = await modelFolder(dir).load!();
  eat(await readBounded(path.join(dir, MODEL_JSON), 64 << 20, 'bad-model-file', { missing: `${dir} has no readable ${MODEL_JSON}.`, tooBig: (n) => `${path.join(dir, MODEL_JSON)} has at least ${n} bytes; it is not a model.json.` }));
  for (const b of Array.isArray(artifacts.weightData) ? artifacts.weightData : artifacts.weightData ? [artifacts.weightData] : []) eat(new Uint8Array(b));
  return (h >>> 0).toString(16).padStart(8, '0');
}

function trainHint(depth: ZooDepth, width: number, dir: string, regime: Regime): string {
  // v2's recipe is the companion's (pre-training on the pool, then M source), one script per model.
  if (regime.id === 'v2') return `bash scripts/zoo-v2.sh resnet${depth}-w${width}`;
  return `npm run lab -- train --depth ${depth} --width ${width} --tier S --domain source --steps 2000 --out ${path.join(dir, zooName(depth, width, regime))}`;
}

/** The zoo's folders for the depths the rows need; a clear error naming what is missing. */
async function findZoo(zoo: string, rows: ReproduceRow[], width: number, regime: Regime, notes: string[]): Promise<{ rows: ReproduceRow[]; dirs: Map<ZooDepth, string>; trainingImages: Partial<Record<ZooDepth, number>> }> {
  // ResNet-18 and -50 are always needed: the cost target is ResNet-18's MACs on ResNet-50.
  const needed = [...new Set([...REQUIRED_DEPTHS, ...rows.map((r) => r.depth)])];
  const dirs = new Map<ZooDepth, string>();
  const missing: ZooDepth[] = [];
  for (const d of needed) {
    const dir = path.join(zoo, zooName(d, width, regime));
    if (existsSync(path.join(dir, MODEL_JSON))) dirs.set(d, dir);
    else missing.push(d);
  }
  const required = missing.filter((d) => REQUIRED_DEPTHS.includes(d));
  if (required.length) {
    throw new LabError(
      'bad-model-file',
      `The reproduction needs the zoo models ${required.map((d) => zooName(d, width, regime)).join(' and ')} in ${zoo}, and ${required.length === 1 ? 'it is' : 'they are'} missing. Make ${required.length === 1 ? 'it' : 'them'} with:\n${required.map((d) => `  ${trainHint(d, width, zoo, regime)}`).join('\n')}\n(or point --zoo at a folder that has them).`,
    );
  }
  for (const d of missing) {
    const msg = `${zooName(d, width, regime)} is missing from ${zoo}, so its row is not run; make it with \`${trainHint(d, width, zoo, regime)}\`.`;
    process.stderr.write(`warning: ${msg}\n`);
    notes.push(msg);
  }
  const trainingImages: Partial<Record<ZooDepth, number>> = {};
  for (const [d, dir] of dirs) {
    try {
      const card = JSON.parse(await readTextBounded(path.join(dir, 'card.json'), 16 << 20, 'bad-model-file', 'The card')) as { training?: { steps?: number; plannedSteps?: number; complete?: boolean } };
      const images = trainingImagesOf(card);
      if (images !== undefined) trainingImages[d] = images;
      if (card.training?.complete === false) {
        const msg = `${zooName(d, width, regime)} is only partly trained (${card.training.steps} of ${card.training.plannedSteps} steps); its numbers describe that model.`;
        process.stderr.write(`warning: ${msg}\n`);
        notes.push(msg);
      }
    } catch {
      /* a folder without a card is still a model */
    }
  }
  return { rows: rows.filter((r) => dirs.has(r.depth)), dirs, trainingImages };
}

function setupLines(s: ReproduceSettings, macsKeep: number, dirs: Map<ZooDepth, string>, fingerprints: Map<ZooDepth, string>, datasetSizes: string): string[] {
  const b = s.budget;
  return [
    `Zoo ${s.regime.id}: the models were ${s.regime.training}.`,
    `Domains: SynthReID ${s.sourceTier} source (the zoo models' training source; scenario 1 prunes with its training split) and SynthReID ${s.tier} target (operational; every number here is on its query/gallery). ${datasetSizes}`,
    `Models: ${[...dirs].map(([d, dir]) => `ResNet-${d} ${dir} (fingerprint ${fingerprints.get(d)})`).join('; ')}.`,
    `Cost budget: pruned ResNet-50 keeps ${(100 * macsKeep).toFixed(2)}% of its MACs = ResNet-18's MACs (from the two specs' cost), inner-block channels only (scope "inner"), local ranking.`,
    `Fine-tuning budget, equal for every row: ${b.steps} steps of P=${b.p} x K=${b.k} = ${b.steps * b.p * b.k} training images seen, Adam lr ${b.lr}, triplet loss, on ${s.fineTuneIds} target training identities x ${s.imagesPerId} images (seeded by the run's seed). Scenario 2 splits it half before pruning, half after; AutoBalanced's penalty training is its first half; soft pruning spreads it over ${s.softEpochs} epochs.`,
    `Engine: the lab's own trainer and evaluator (tfjs, ${tf.getBackend()} backend, Node) for every cell; none was fine-tuned by the PyTorch companion.`,
    `Criterion data (Taylor, entropy, COP): ${s.criterionBatches} x ${s.criterionBatchSize} images of the pruning domain's training data: the target fine-tuning subset (scenario 2) or the whole source training split (scenario 1).`,
    `Evaluation: ${s.evalIds > 0 ? `${s.evalIds} seeded target test identities (with the same share of distractors and junk)` : 'all target test identities'}; Euclidean distance, no flip, Market-1501 protocol.`,
    `Seeds: ${s.seeds.join(', ')}${s.quick ? ' (--quick: indicative only)' : ''}.`,
  ];
}

/** The commands a reader needs to redo or continue the report: the zoo, this report, the missing cells, the charts. */
function reportCommands(
  argv: string[],
  width: number,
  regime: Regime,
  zoo: string,
  fromCache: boolean,
  file: string,
  jsonOut: string | undefined,
  chartsDir: string | undefined,
  sweep: { cacheFile: string; rows: string[]; budgets: { steps: number; seeds: number }[] },
): { comment: string; command: string }[] {
  const cmds = ([18, 50, 34] as const).map((d) => ({ comment: `zoo model ResNet-${d} (resumable with --resume${d === 34 ? '; optional, its row is skipped if missing' : ''})`, command: trainHint(d, width, zoo, regime) }));
  const q = reproduceSettings({ quick: true });
  const quickLook = `quick look: ${q.seeds.length} seed, ${q.budget.steps} fine-tuning steps, ${q.evalIds} test identities, ${selectRows(true).length} rows (indicative only)`;
  cmds.push({ comment: quickLook, command: 'npm run lab -- reproduce --quick' });
  cmds.push({ comment: fromCache ? 'this report, from the cached cells only' : 'this report (resumable: finished cells are cached)', command: `npm run lab -- ${argv.join(' ')}` });
  if (fromCache) {
    cmds.push({
      comment: "run the main table's cells this report lacks (with more cores, start one process per --rows a,b; they can share the --cache file)",
      command: `npm run lab -- ${argv.filter((a) => a !== '--from-cache').join(' ')}`,
    });
  }
  for (const b of sweep.rows.length ? sweep.budgets : []) {
    cmds.push({
      comment: `the budget sweep's cells at ${b.steps} steps (${b.seeds} seed${b.seeds === 1 ? '' : 's'}; resumable)`,
      command: `npm run lab -- reproduce --regime ${regime.id} --seeds ${b.seeds} --steps ${b.steps} --rows ${sweep.rows.join(',')} --cache ${sweep.cacheFile} --out ${path.join('runs', `reproduce-${regime.id}`, `sweep-${b.steps}.md`)}`,
    });
  }
  if (jsonOut && chartsDir) {
    cmds.push({ comment: 'the charts, from the JSON record (PNG drawn by Debian\'s Chromium)', command: `npm run repro-charts -- --in ${jsonOut} --out ${path.join(path.dirname(file), chartsDir)}` });
  }
  return cmds;
}

export async function reproduceCommand(flags: Flags, argv: string[]): Promise<void> {
  const quick = bool(flags, 'quick');
  const regime = regimeOf(str(flags, 'regime', DEFAULT_REGIME));
  const settings = reproduceSettings({
    quick,
    regime: regime.id,
    seeds: flags.seeds !== undefined ? num(flags, 'seeds', 3, { integer: true, min: 1, max: 20 }) : undefined,
    steps: flags.steps !== undefined ? num(flags, 'steps', 100, { integer: true, min: 1 }) : undefined,
    evalIds: flags['eval-ids'] !== undefined ? num(flags, 'eval-ids', 0, { integer: true, min: 0 }) : undefined,
    fineTuneIds: flags.ids !== undefined ? num(flags, 'ids', 64, { integer: true, min: 2 }) : undefined,
    imagesPerId: flags['images-per-id'] !== undefined ? num(flags, 'images-per-id', 4, { integer: true, min: 2 }) : undefined,
    // XS is for tests and smoke runs only (16 identities a side).
    tier: oneOf<'XS' | 'S'>(flags, 'tier', ['XS', 'S'], 'S'),
    p: flags.p !== undefined ? num(flags, 'p', 8, { integer: true, min: 2 }) : undefined,
    k: flags.k !== undefined ? num(flags, 'k', 4, { integer: true, min: 2 }) : undefined,
  });
  const zoo = str(flags, 'zoo', 'public/models');
  const cacheFile = str(flags, 'cache', path.join('runs', 'reproduce', 'results.json'));
  const out = optStr(flags, 'out');
  const jsonOut = optStr(flags, 'json-out');
  // Folder (relative to the report) where `npm run repro-charts` writes the PNGs the report shows.
  const chartsDir = optStr(flags, 'charts');
  // Markdown written by people about these results; shown after the verdicts, kept on regeneration.
  const readingFile = optStr(flags, 'reading');
  const reading = readingFile ? await readTextBounded(readingFile, 4 << 20, 'bad-argument', 'The --reading file').catch((e: Error) => {
    throw new LabError('bad-argument', `The --reading file ${readingFile} cannot be read (${e.message}).`);
  }) : undefined;
  // The plan as fixed before the run (Markdown), shown before the setup.
  const planFile = optStr(flags, 'plan');
  const plan = planFile ? await readTextBounded(planFile, 4 << 20, 'bad-argument', 'The --plan file').catch((e: Error) => {
    throw new LabError('bad-argument', `The --plan file ${planFile} cannot be read (${e.message}).`);
  }) : undefined;
  // Report what the cache holds without running the missing cells (rows may then differ in seeds).
  const fromCache = bool(flags, 'from-cache');
  const rowIds = optStr(flags, 'rows')?.split(',').map((s) => s.trim()).filter(Boolean);
  // Other fine-tuning budgets of the headline rows, reported from the cache (run them with --steps N
  // --rows resnet50,haoli,molchanov): "300,1000:1" = 300 steps at --seeds seeds, 1000 at 1 seed.
  const sweepPlan = (optStr(flags, 'sweep') ?? '').split(',').filter(Boolean).map((x) => {
    const m = /^(\d+)(?::(\d+))?$/.exec(x.trim());
    const steps = m ? Number(m[1]) : NaN;
    const seeds = m?.[2] !== undefined ? Number(m[2]) : settings.seeds.length;
    if (!m || steps < 1 || seeds < 1 || seeds > 20) throw new LabError('bad-argument', `--sweep takes step counts separated by commas, each optionally with its seeds (e.g. 300,1000:1); "${x}" is not one.`);
    return { steps, seeds };
  });
  // The main run's budget is the main table, not a sweep point.
  const sweepBudgets = sweepPlan.filter((b) => b.steps !== settings.budget.steps);
  // Another regime's results (its --json-out file), set beside this one's.
  const compareFile = optStr(flags, 'compare');
  const compare = compareFile
    ? parseReproductions(await readTextBounded(compareFile, 16 << 20, 'bad-argument', 'The --compare file').catch((e: Error) => {
        throw new LabError('bad-argument', `The --compare file ${compareFile} cannot be read (${e.message}).`);
      }))
    : [];
  // Unwritable outputs fail now, not after hours of cells.
  const reportFile = out ?? path.join(path.dirname(cacheFile), quick ? 'report-quick.md' : 'report.md');
  const prepareReport = await checkOutputFile(reportFile, out ? '--out' : 'the report');
  const prepareJson = jsonOut ? await checkOutputFile(jsonOut, '--json-out') : undefined;
  await checkOutputFile(cacheFile, '--cache');
  const notes: string[] = [];
  const { rows, dirs, trainingImages } = await findZoo(zoo, selectRows(quick, rowIds, regime.id), settings.width, regime, notes);
  if (rows.length === 0) throw new LabError('bad-argument', `No rows to run; known rows in regime ${regime.id}: ${selectRows(false, undefined, regime.id).map((r) => r.id).join(', ')}.`);

  const started = Date.now();
  const signal = { aborted: false };
  const onSigint = () => {
    if (signal.aborted) process.exit(130);
    signal.aborted = true;
    process.stderr.write('\nStopping after saving the finished cells (Ctrl-C again to quit now).\n');
  };
  process.on('SIGINT', onSigint);

  try {
    const cache = await readCache(cacheFile);
    const fileCache: ReproduceCache = {
      getCell: async (k) => cache.cells[k],
      putCell: async (k, c) => {
        cache.cells[k] = c;
        await writeCache(cacheFile, cache);
      },
      getBefore: async (k) => cache.before[k],
      putBefore: async (k, snap) => {
        cache.before[k] = snap;
        await writeCache(cacheFile, cache);
      },
    };
    // The target at the plan's tier; the source at the regime's (its training split only: scenario 1 prunes with it).
    const gen = (domain: 'source' | 'target', size: { height: number; width: number }) => {
      const tier = domain === 'source' ? settings.sourceTier : settings.tier;
      const bar = new ProgressBar(`SynthReID ${tier}/${domain}`, 1);
      const splits = domain === 'source' ? (['train'] as const) : undefined;
      const { dataset } = generateSynthReid({ tier, domain, ...size, ...(splits ? { splits: [...splits] } : {}), onProgress: ({ done, total }) => ((bar.total = total), bar.update(done)) });
      bar.finish();
      return dataset;
    };
    let target: ReidDataset | undefined;
    let bar: ProgressBar | undefined;
    const loadModel = async (d: ZooDepth) => {
      const dir = dirs.get(d);
      if (!dir) return null;
      const fp = await fingerprint(dir);
      return { model: (await loadModelFromFolder(dir)).model, fingerprint: fp };
    };
    const outcome = await runReproduction(
      {
        rows,
        settings,
        loadModel,
        loadData: async ({ source, height, width }) => {
          target ??= gen('target', { height, width });
          return { target, ...(source ? { source: gen('source', { height, width }) } : {}) };
        },
        cache: fileCache,
        cachedOnly: fromCache,
        // The cut alone (no fine-tuning) of the headline pruned rows: a precondition the report states.
        measureCuts: quick ? [] : ['haoli', 'molchanov', 'haoli-r34', 'molchanov-r34'],
      },
      {
        signal,
        log: (l) => process.stderr.write(`${l}\n`),
        onCellStart: (c) => (bar = new ProgressBar(`[${c.index}/${c.total}] ${c.row.label}, seed ${c.seed}`, 100)),
        onCellProgress: (_c, f, message) => bar?.update(Math.round(100 * f), message),
        onCellDone: (_c, result, reused) => {
          if (!reused) bar?.finish(`R1 ${(100 * result.after.rank1).toFixed(1)} mAP ${(100 * result.after.mAP).toFixed(1)} at ${formatMacs(result.after.macs)}`);
        },
      },
    );

    // The sweep's other budgets: cached cells only (its cells are run with --steps).
    const sweep: SweepPoint[] = [];
    let sweepPlanned = 0;
    let sweepDone = 0;
    for (const { steps, seeds } of sweepBudgets) {
      const sweepRows = rows.filter((r) => SWEEP_ROW_IDS.includes(r.id));
      const seedList = Array.from({ length: seeds }, (_, i) => i + 1);
      const o = await runReproduction({ rows: sweepRows, settings: { ...settings, seeds: seedList, budget: { ...settings.budget, steps } }, loadModel, loadData: async () => ({ target: target! }), cache: fileCache, cachedOnly: true });
      sweep.push({ steps, rows: o.summaries, seeds });
      notes.push(...o.notes.map((n) => `Budget sweep, ${steps} steps: ${n}`));
      sweepPlanned += o.cells;
      sweepDone += o.ran + o.reused;
    }
    const wall = (Date.now() - started) / 1000;
    const fingerprints = new Map<ZooDepth, string>([...dirs.keys()].map((d) => [d, outcome.fingerprints[d] ?? '']));
    // The loop's notes: partly trained models, cells not run (stopped early or --from-cache).
    notes.push(...outcome.notes.filter((n) => !notes.includes(n)));
    // Rows whose model is missing were not passed to the loop: they are reported as not run.
    const summaries = selectRows(quick, rowIds, regime.id).map((r) => outcome.summaries.find((s) => s.row.id === r.id) ?? summarizeRow(r, []));
    const sizes = `Target: ${target?.train.count ?? 0} training images; evaluated on ${outcome.evaluation.queries} queries and ${outcome.evaluation.gallery} gallery images.`;
    const meta = {
      command: `npm run lab -- ${argv.join(' ')}`,
      date: new Date().toISOString().slice(0, 10),
      machine: `${os.cpus()[0]?.model ?? 'unknown CPU'}, ${os.cpus().length} cores, ${tf.getBackend()} backend, Node ${process.version}`,
      wallSeconds: wall,
      setup: setupLines(settings, outcome.macsKeep, dirs, fingerprints, sizes),
      notes,
    };
    const conditions = quick ? undefined : preconditions({ rows: summaries, cuts: outcome.cuts, trainingImages, fineTuneImages: settings.budget.steps * settings.budget.p * settings.budget.k });
    const record: ReproductionRecord = {
      format: REPRODUCTION_FORMAT,
      ...meta,
      regime: { id: regime.id, label: regime.label },
      ...(conditions ? { preconditions: conditions } : {}),
      ...(sweep.length ? { sweep } : {}),
      quick,
      tier: settings.tier,
      seeds: settings.seeds,
      budget: settings.budget,
      macsKeep: outcome.macsKeep,
      rows: summaries,
      verdicts: claimVerdicts(summaries),
    };
    const charts = chartsDir ? reproductionCharts(record, compare).map((c) => ({ title: c.title, path: `${chartsDir}/${c.name}.png` })) : undefined;
    const file = reportFile;
    const sections: { title: string; body: string }[] = [];
    if (sweep.length) {
      const points = sweepPoints(settings.budget.steps, summaries, sweep);
      sections.push({ title: 'Recovery budget sweep', body: `The headline rows at ${points.map((x) => x.steps).join(', ')} fine-tuning steps (P=${settings.budget.p} x K=${settings.budget.k}; the same recipe, only the number of steps changes). At each budget the pruned rows are judged against the dense ResNet-50 of the same budget, "rank-1 drop at most 1 pp", by the rule below.\n\n${renderSweep(points, settings.budget.p, settings.budget.k)}` });
    }
    if (compare.length) sections.push({ title: 'Both regimes', body: `The same plan, benchmark and verdict rule on each zoo; only the models (and scenario 1's source data) differ.\n\n${renderRegimes([record, ...compare])}` });
    // The sweep's cells count as planned too: a report without them is partial.
    const planned = outcome.cells + sweepPlanned;
    const done = outcome.ran + outcome.reused + sweepDone;
    const sweepGap = sweepDone < sweepPlanned ? ` (the budget sweep: ${sweepDone} of ${sweepPlanned})` : '';
    const status = done < planned ? `Partial: ${done} of ${planned} planned cells have run${sweepGap}; a verdict with fewer than 2 seeds on a side is inconclusive, and the missing cells are listed under Notes.` : undefined;
    const md = renderReproduction(summaries, {
      ...meta,
      ...(status ? { status } : {}),
      regime: regime.label,
      ...(conditions ? { preconditions: { markdown: renderPreconditions(conditions), restsOn: record.verdicts.map((_, i) => restsOn(conditions, i + 1)) } } : {}),
      ...(sections.length ? { sections } : {}),
      ...(sweep.length ? { costRows: sweepCostRows(settings.budget.steps, sweep) } : {}),
      ...(charts ? { charts } : {}),
      ...(reading ? { reading } : {}),
      ...(plan ? { plan } : {}),
      commands: reportCommands(argv, settings.width, regime, zoo, fromCache, file, jsonOut, chartsDir, { cacheFile, rows: rows.filter((r) => SWEEP_ROW_IDS.includes(r.id)).map((r) => r.id), budgets: sweepBudgets }),
    });
    await prepareReport();
    await writeFileAtomically(file, md);
    if (jsonOut) {
      await prepareJson!();
      await writeFileAtomically(jsonOut, compare.length ? reproductionsToJson([record, ...compare]) : reproductionToJson(record));
    }
    process.stdout.write(md.split('## Table 5, side by side')[0]);
    process.stdout.write(`Ran ${outcome.ran} new cell(s) in ${formatSeconds(wall)}; ${outcome.reused} reused from ${cacheFile}. Report written to ${file}${jsonOut ? ` and ${jsonOut}` : ''}.\n`);
  } finally {
    process.off('SIGINT', onSigint);
  }
}
