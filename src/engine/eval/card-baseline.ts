/**
 * The baseline from a zoo model's card: `lab card` evaluates the shipped (float16) weights on
 * SynthReID test splits, and the benchmark is deterministic, so when the page has loaded that
 * very model and that very dataset it can show the card's numbers at once instead of spending
 * its first minute and a half re-computing them. "That very dataset" means every parameter the
 * generator takes: tier, domain, shift, seed, image size and generator version. A card entry
 * that does not record one of them cannot be trusted to match and is treated as not matching.
 *
 * Pure (no tfjs, no DOM, no fetch). The worker supplies the card and the page's dataset.
 */
import { resolveSynthOptions, SYNTH_GENERATOR_VERSION, SYNTH_POOL_VERSION, type SynthDomain, type SynthOptions, type SynthTier } from '../data/synth';

/** What a SynthReID dataset is made from (the generator's resolved options and its version). */
export interface CardSynthParams {
  tier: SynthTier;
  domain: SynthDomain;
  /** 0 for the source domain and the pool (the generator ignores the knob there). */
  shift: number;
  seed: number;
  height: number;
  width: number;
  generatorVersion: string;
}

/**
 * The generator parameters of a SynthReID request as the generator resolves them (defaults
 * filled in, the shift knob 0 in the source domain), with this build's generator version.
 */
export function synthParamsOf(req: Pick<SynthOptions, 'tier' | 'domain' | 'shift' | 'seed' | 'height' | 'width'>): CardSynthParams {
  const o = resolveSynthOptions(req);
  return { tier: o.tier, domain: o.domain, shift: o.shift, seed: o.seed, height: o.height, width: o.width, generatorVersion: o.domain === 'pool' ? SYNTH_POOL_VERSION : SYNTH_GENERATOR_VERSION };
}

/** The model the page has loaded: its cost identifies the architecture the card describes. */
export interface CardModelFacts {
  macs: number;
  params: number;
}

/** The page's dataset: its generator parameters and how many gallery images it holds. */
export interface CardDatasetFacts {
  synth: CardSynthParams;
  galleryImages: number;
  queryImages: number;
}

/** A card entry's figures (fractions in [0, 1]), as `lab card` wrote them. */
export interface CardFigures {
  dataset: string;
  mAP: number;
  rank1: number;
  rank5: number;
  rank10: number;
  mINP: number;
  numQueries: number;
  numGallery: number;
}

export type CardMatch =
  | { kind: 'match'; figures: CardFigures; created: string | null }
  | { kind: 'mismatch'; reason: string };

const SYNTH_FIELDS: readonly { key: keyof CardSynthParams; what: string }[] = [
  { key: 'tier', what: 'tier' },
  { key: 'domain', what: 'domain' },
  { key: 'shift', what: 'domain shift' },
  { key: 'seed', what: 'seed' },
  { key: 'height', what: 'image height' },
  { key: 'width', what: 'image width' },
  { key: 'generatorVersion', what: 'generator version' },
];

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isFraction = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0 && v <= 1;
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v > 0;

/** The figures of an entry, or null if any is missing or out of range. */
function figuresOf(e: Record<string, unknown>): CardFigures | null {
  const { dataset, mAP, rank1, rank5, rank10, mINP, numQueries, numGallery } = e;
  if (typeof dataset !== 'string') return null;
  if (![mAP, rank1, rank5, rank10, mINP].every(isFraction) || !isCount(numQueries) || !isCount(numGallery)) return null;
  return { dataset, mAP, rank1, rank5, rank10, mINP, numQueries, numGallery } as CardFigures;
}

/** The fields of `want` an entry's recorded parameters lack or differ in, as phrases. */
function differences(recorded: unknown, want: CardSynthParams): string[] {
  if (!isObject(recorded)) return ['does not record the dataset\u2019s generator parameters (seed, shift, image size, generator version)'];
  const out: string[] = [];
  for (const { key, what } of SYNTH_FIELDS) {
    const v = recorded[key];
    if (v === undefined) out.push(`does not record the ${what}`);
    else if (v !== want[key]) out.push(`has ${what} ${JSON.stringify(v)}, the page\u2019s dataset ${JSON.stringify(want[key])}`);
  }
  return out;
}

const fmt = (p: CardSynthParams) => `SynthReID-${p.tier}/${p.domain}${p.domain === 'target' ? ` shift ${p.shift}` : ''} (seed ${p.seed}, ${p.height}\u00d7${p.width}, generator ${p.generatorVersion})`;

/**
 * The card entry computed on exactly the page's model and dataset, or the reason there is none
 * (a sentence: the page then evaluates live and may say why).
 */
export function matchCardEntry(card: unknown, model: CardModelFacts, data: CardDatasetFacts): CardMatch {
  const mismatch = (why: string): CardMatch => ({ kind: 'mismatch', reason: `The model card cannot stand in for the evaluation: ${why}` });
  if (!isObject(card)) return mismatch('there is no card (or it is not a JSON object).');
  if (card.macs !== model.macs || card.params !== model.params) {
    return mismatch(`it describes a model of ${String(card.macs)} MACs and ${String(card.params)} parameters, the loaded one has ${model.macs} and ${model.params}.`);
  }
  if (!Array.isArray(card.evaluation) || card.evaluation.length === 0) return mismatch('it has no evaluation entries.');
  let best: { entry: Record<string, unknown>; diffs: string[] } | null = null;
  for (const entry of card.evaluation) {
    if (!isObject(entry)) continue;
    const diffs = differences(entry.synth, data.synth);
    if (diffs.length === 0) {
      const figures = figuresOf(entry);
      if (!figures) return mismatch(`its ${String(entry.dataset)} entry has missing or out-of-range figures.`);
      // The same generator parameters make the same gallery; a different count means the card
      // and the page do not describe the same data after all.
      if (figures.numGallery !== data.galleryImages || figures.numQueries > data.queryImages) {
        return mismatch(
          `its ${figures.dataset} entry counts ${figures.numQueries} queries and ${figures.numGallery} gallery images, the page\u2019s dataset has ${data.queryImages} and ${data.galleryImages}.`,
        );
      }
      return { kind: 'match', figures, created: typeof card.created === 'string' ? card.created : null };
    }
    // Name the entry closest to the page's dataset (fewest differences, the same name first).
    const sameName = typeof entry.dataset === 'string' && entry.dataset.startsWith(`SynthReID-${data.synth.tier}/${data.synth.domain}`);
    if (!best || diffs.length < best.diffs.length || (diffs.length === best.diffs.length && sameName)) best = { entry, diffs };
  }
  if (!best) return mismatch('its evaluation entries are not objects.');
  return mismatch(`no entry was computed on ${fmt(data.synth)}; the closest, ${String(best.entry.dataset)}, ${best.diffs.join('; ')}.`);
}

/**
 * Whether a live evaluation disagrees with the card beyond rounding (the tolerances the zoo
 * test allows between machines: mAP 0.002, one query's worth of rank-1/rank-5, equal counts).
 * Returns a sentence when it does: with a deterministic benchmark that is a bug.
 */
export function cardDisagreement(
  card: Pick<CardFigures, 'mAP' | 'rank1' | 'rank5' | 'numQueries' | 'numGallery'>,
  live: { mAP: number; rank1: number; rank5: number; numValidQueries: number; numGallery: number; dataset: string },
): string | null {
  const perQuery = 1 / Math.max(1, card.numQueries) + 1e-9;
  const off: string[] = [];
  const pct = (v: number) => (v * 100).toFixed(2);
  if (live.numValidQueries !== card.numQueries) off.push(`${card.numQueries} queries on the card, ${live.numValidQueries} here`);
  if (live.numGallery !== card.numGallery) off.push(`${card.numGallery} gallery images on the card, ${live.numGallery} here`);
  if (Math.abs(live.mAP - card.mAP) >= 2e-3) off.push(`mAP ${pct(card.mAP)} on the card, ${pct(live.mAP)} here`);
  if (Math.abs(live.rank1 - card.rank1) >= perQuery) off.push(`rank-1 ${pct(card.rank1)} on the card, ${pct(live.rank1)} here`);
  if (Math.abs(live.rank5 - card.rank5) >= perQuery) off.push(`rank-5 ${pct(card.rank5)} on the card, ${pct(live.rank5)} here`);
  if (off.length === 0) return null;
  return `The live evaluation on ${live.dataset} disagrees with the model card (${off.join('; ')}). The benchmark is deterministic, so this is a bug in the lab or a card that no longer matches the weights: please report it. The chart now shows the live numbers.`;
}
