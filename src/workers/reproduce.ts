/**
 * The Reproduce view's job in the worker: the quick plan of `lab reproduce` in the browser, on
 * the engine's shared cell loop (engine/scenarios/reproduce.ts). SynthReID source and target at
 * the plan's tier, the zoo's models over http from the app's /models/, progress per cell with an
 * ETA, cancellation between and inside cells, and finished cells kept in IndexedDB so a reload
 * resumes. The lab's own model and dataset are not touched.
 */
import { ReidModel } from '../engine/model/model';
import { buildSpec } from '../engine/model/spec';
import { loadModel } from '../engine/model/weights-io';
import { SYNTH_DEFAULT_SEED } from '../engine/data/synth';
import { reproduceSettings, selectRows, zooName, type ZooDepth } from '../engine/scenarios/reproduce-plan';
import { runReproduction, weightsFingerprint, type ZooModel } from '../engine/scenarios/reproduce';
import type { ReproduceRequest, ReproduceTick, ReproduceView } from './reproduce-api';
import { generateSynth } from './dataset';
import { zooHas, zooUrl } from './model-source';
import { openReproduceCache } from './reproduce-cache';
import type { Job } from './jobs';

/** The tiny stand-ins for tests: the lab's "tiny" model family at every depth the plan uses. */
function tinyModel(depth: ZooDepth): ZooModel {
  const model = ReidModel.init(buildSpec({ depth, widthMultiplier: 0.125, inputHeight: 64, inputWidth: 32 }), 1000 + depth);
  return { model, fingerprint: `tiny-${depth}` };
}

async function zooModel(name: string): Promise<ZooModel | null> {
  const url = zooUrl(name);
  if (!(await zooHas(url))) return null;
  const { model } = await loadModel(url);
  const zoo: ZooModel = { model, fingerprint: await weightsFingerprint(model) };
  try {
    const res = await fetch(url.replace(/model\.json$/, 'card.json'), { cache: 'no-cache' });
    const card = res.ok ? ((await res.json()) as { training?: { steps?: number; plannedSteps?: number; complete?: boolean } }) : null;
    const t = card?.training;
    if (t?.complete === false && typeof t.steps === 'number' && typeof t.plannedSteps === 'number') zoo.partlyTrained = { steps: t.steps, plannedSteps: t.plannedSteps };
  } catch {
    // A model without a readable card is still a model.
  }
  return zoo;
}

export async function runReproduceJob(req: ReproduceRequest, backend: string, job: Job, onTick: (t: ReproduceTick) => void): Promise<ReproduceView> {
  const quick = req.quick ?? true;
  const models = req.models ?? 'zoo';
  const planned = reproduceSettings({
    quick,
    ...(req.seeds !== undefined ? { seeds: req.seeds } : {}),
    ...(req.steps !== undefined ? { steps: req.steps } : {}),
    ...(req.evalIds !== undefined ? { evalIds: req.evalIds } : {}),
    ...(req.fineTuneIds !== undefined ? { fineTuneIds: req.fineTuneIds } : {}),
    ...(req.imagesPerId !== undefined ? { imagesPerId: req.imagesPerId } : {}),
    ...(req.tier !== undefined ? { tier: req.tier } : {}),
    ...(req.p !== undefined ? { p: req.p } : {}),
    ...(req.k !== undefined ? { k: req.k } : {}),
  });
  // Scenario 1 prunes with S source here, the same source domain as zoo v2's M source (fewer
  // identities): M's ~13k training images would take minutes and ~0.3 GB to render in a page.
  const settings = { ...planned, sourceTier: planned.sourceTier === 'M' ? ('S' as const) : planned.sourceTier };
  const sourceNote = planned.sourceTier !== settings.sourceTier ? [`Scenario 1 prunes with SynthReID ${settings.sourceTier} source data in the browser (the zoo's source domain, fewer identities); \`lab reproduce\` uses ${planned.sourceTier} source.`] : [];
  const rows = selectRows(quick, req.rows, settings.regime.id);
  const missingModels: string[] = [];
  const { cache, close, note } = await openReproduceCache();
  try {
    const outcome = await runReproduction(
      {
        rows,
        settings,
        loadModel: async (depth) => {
          job.throwIfCancelled();
          const name = zooName(depth, settings.width, settings.regime);
          job.progress(0, `Loading ${models === 'tiny' ? `a tiny random ResNet-${depth}` : name}`, undefined, true);
          const m = models === 'tiny' ? tinyModel(depth) : await zooModel(name);
          if (!m) missingModels.push(name);
          return m;
        },
        loadData: async ({ source, height, width }) => {
          const gen = (domain: 'source' | 'target') => generateSynth({ tier: domain === 'source' ? settings.sourceTier : settings.tier, domain, shift: domain === 'target' ? 1 : 0, seed: SYNTH_DEFAULT_SEED }, { height, width }, job);
          const target = await gen('target');
          return { target, ...(source ? { source: await gen('source') } : {}) };
        },
        cache,
      },
      {
        signal: job.signal,
        onProgress: (p) => {
          if (job.progress(p.fraction, p.message)) onTick({ cell: p.cell, cells: p.cells, toRun: p.toRun, ran: p.ran, etaSec: p.etaSec });
        },
      },
    );
    return {
      rows: outcome.summaries,
      verdicts: outcome.verdicts,
      missingRows: outcome.missingRows,
      missingModels,
      models,
      tier: settings.tier,
      seeds: settings.seeds,
      budget: settings.budget,
      macsKeep: outcome.macsKeep,
      cells: outcome.cells,
      ran: outcome.ran,
      reused: outcome.reused,
      notRun: outcome.notRun,
      cancelled: outcome.cancelled,
      notes: [...(note ? [note] : []), ...(models === 'tiny' ? ['Tiny random models (a test set-up): the numbers say nothing about the paper.'] : []), ...(rows.some((r) => r.scenario === 'prune-at-source') ? sourceNote : []), ...outcome.notes],
      seconds: outcome.seconds,
      backend,
    };
  } finally {
    close();
  }
}
