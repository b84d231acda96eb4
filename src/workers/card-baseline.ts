/**
 * The start-up baseline from the zoo model's card.json (next to its model.json), when the page
 * holds exactly the model and dataset a card entry was computed on; otherwise the reason why
 * not, and the page evaluates live. The matching itself is engine/eval/card-baseline.ts.
 */
import { modelCost } from '../engine/cost/macs';
import { matchCardEntry, synthParamsOf, type CardSynthParams } from '../engine/eval/card-baseline';
import type { CardBaselineOutcome, DatasetSummary } from './api';
import type { LabSession } from './session';
import { zooUrl } from './model-source';

/** The zoo's card for `name`, or null if it has none (or the host answers with something else). */
export async function fetchZooCard(name: string): Promise<unknown> {
  try {
    const res = await fetch(new URL('card.json', zooUrl(name)).href, { cache: 'no-cache' });
    if (!res.ok) return null;
    const text = await res.text();
    // A static host may answer a missing file with index.html.
    return text.trimStart().startsWith('{') ? (JSON.parse(text) as unknown) : null;
  } catch {
    return null;
  }
}

const cards = new Map<string, Promise<unknown>>();

/** The card's numbers as the current baseline, if the session holds the card's model on the card's dataset. */
export async function cardBaseline(session: LabSession, dataset: DatasetSummary | null): Promise<CardBaselineOutcome> {
  const dense = session.denseModel;
  const state = session.modelState;
  const live = (reason: string): CardBaselineOutcome => ({ kind: 'live', reason });
  if (!dense || !state) return live('No model is loaded yet.');
  if (dense.source !== 'zoo') return live('The model is not from the model zoo, so it has no card.');
  if (session.currentModel !== dense.model || state.lineage.prune || state.lineage.fineTuneSteps > 0 || state.lineage.ptl) {
    return live('The current model is pruned or fine-tuned: the card describes the dense zoo model only.');
  }
  if (!dataset || dataset.kind !== 'synth' || !dataset.synth) return live('The dataset is not SynthReID, on which the card was computed.');
  const req = dataset.synth;
  let synth: CardSynthParams;
  try {
    synth = synthParamsOf({ tier: req.tier, domain: req.domain, shift: req.shift, seed: req.seed, height: dataset.height, width: dataset.width });
  } catch (e) {
    return live((e as Error).message);
  }
  const data = session.dataset;
  if (!cards.has(dense.name)) cards.set(dense.name, fetchZooCard(dense.name));
  const card = await cards.get(dense.name)!;
  // The model or dataset may have changed while the card was on its way.
  if (session.modelState !== state || session.denseModel !== dense || session.dataset !== data) return live('The model or the dataset changed while the card was being read.');
  const cost = modelCost(dense.model.spec);
  const m = matchCardEntry(card, cost, {
    synth,
    galleryImages: dataset.gallery.images,
    queryImages: dataset.query.images,
  });
  if (m.kind === 'mismatch') return live(m.reason);
  const f = m.figures;
  return {
    kind: 'card',
    eval: {
      // `lab card` scores every query.
      kind: 'full',
      mAP: f.mAP,
      rank1: f.rank1,
      rank5: f.rank5,
      rank10: f.rank10,
      mINP: f.mINP,
      // The card counts the queries that have a true match; the page's dataset has these queries.
      numQueries: dataset.query.images,
      numValidQueries: f.numQueries,
      numGallery: f.numGallery,
      dataset: dataset.name,
      ms: 0,
      source: 'card',
    },
    cardCreated: m.created,
  };
}
