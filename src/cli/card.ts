/**
 * card.json: what a zoo model is and how it was made: architecture, cost, training recipe,
 * wall time, machine, and accuracy on the SynthReID S source and target test splits (the
 * domain gap before any fine-tuning), optionally M target too. The card test re-evaluates the
 * small check evaluation in CI.
 */
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { ReidModel } from '../engine/model/model';
import { modelCost } from '../engine/cost/macs';
import { evaluateModel, type EvaluationResult } from '../engine/eval/evaluate';
import { generateSynthReid, type SynthDomain, type SynthTier } from '../engine/data/synth';
import { synthParamsOf, type CardSynthParams } from '../engine/eval/card-baseline';
import { ProgressBar } from './progress';
import { writeFileAtomically } from '../node/output-folder';

export const CARD_FILE = 'card.json';

export interface CardEval {
  dataset: string;
  mAP: number;
  rank1: number;
  rank5: number;
  rank10: number;
  mINP: number;
  numQueries: number;
  numGallery: number;
  /**
   * Every generator parameter of the dataset, so the lab can tell that its own dataset is the
   * same one and show these figures as the start-up baseline (engine/eval/card-baseline.ts).
   * Absent in cards written before it; such entries never stand in for a live evaluation.
   */
  synth?: CardSynthParams;
}

export function cardEval(dataset: string, r: EvaluationResult, synth?: CardSynthParams): CardEval {
  return {
    dataset, mAP: r.mAP, rank1: r.rank1, rank5: r.rank5, rank10: r.rank10, mINP: r.mINP, numQueries: r.numValidQueries, numGallery: r.numGallery,
    ...(synth ? { synth } : {}),
  };
}

/**
 * The small evaluation the zoo test repeats in CI (seconds, not minutes): SynthReID XS source.
 * The benchmark is deterministic, so the shipped weights must reproduce it to rounding.
 */
export const CARD_CHECK = { tier: 'XS', domain: 'source' } as const;

/** Evaluate on SynthReID test splits (Euclidean, no flip: the lab default). */
export async function evaluateOnSynth(model: ReidModel, which: readonly { tier: SynthTier; domain: SynthDomain }[]): Promise<CardEval[]> {
  const out: CardEval[] = [];
  for (const { tier, domain } of which) {
    const synth = synthParamsOf({ tier, domain, height: model.spec.input.height, width: model.spec.input.width });
    const { dataset } = generateSynthReid(synth);
    const bar = new ProgressBar(`eval ${dataset.name}`, dataset.query.count + dataset.gallery.count);
    const r = await evaluateModel(model, dataset, {
      onProgress: (p) => {
        if (p.phase === 'query') bar.update(p.done);
        else if (p.phase === 'gallery') bar.update(dataset.query.count + p.done);
      },
    });
    bar.finish(`mAP ${(100 * r.mAP).toFixed(1)} R1 ${(100 * r.rank1).toFixed(1)}`);
    out.push(cardEval(dataset.name, r, synth));
  }
  return out;
}

/**
 * Write card.json for the model saved in `dir`. Evaluates the saved weights (float16 as
 * shipped), not the in-memory float32 ones, so the card describes exactly what users load.
 */
export async function writeCard(dir: string, model: ReidModel, extra: Record<string, unknown>, opts: { marketTarget?: boolean } = {}): Promise<Record<string, unknown>> {
  const cost = modelCost(model.spec);
  const evaluation = await evaluateOnSynth(model, [
    { tier: 'S', domain: 'source' },
    { tier: 'S', domain: 'target' },
    // Market scale, held out from every zoo model's training (minutes: 2,664 queries, 19,892 gallery images).
    ...(opts.marketTarget ? [{ tier: 'M', domain: 'target' } as const] : []),
  ]);
  const [check] = await evaluateOnSynth(model, [CARD_CHECK]);
  const card = {
    name: path.basename(path.resolve(dir)),
    architecture: `ResNet-${model.spec.depth}`,
    widthMultiplier: model.spec.widthMultiplier,
    input: model.spec.input,
    lastStride: model.spec.lastStride,
    bnneck: model.spec.head.bnneck,
    macs: cost.macs,
    params: cost.params,
    ...extra,
    evaluation,
    check,
    created: new Date().toISOString(),
    tfjs: tf.version.tfjs,
  };
  await writeFileAtomically(path.join(dir, CARD_FILE), JSON.stringify(card, null, 2) + '\n');
  return card;
}
