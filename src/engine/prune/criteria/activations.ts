/**
 * Data for the data-driven criteria: which images to run, and what to read at a group's mask
 * sites (forward.ts applies a group's mask, and calls its onMaskSite tap, where the group's
 * channels are final: after the producing BatchNorm and ReLU, and for a trunk after every
 * residual add of the chain and, in basic nets, after the stem).
 *
 * - Activations: the tapped feature maps, either globally average-pooled per image ([B, C]) or
 *   whole ([B, H, W, C]), one entry per 4-D site (a trunk has one site per block).
 * - Activation x gradient (Molchanov's first-order Taylor term): every group's mask is a
 *   variable of ones, so dLoss/dmask_c = Σ over batch, positions and sites of a_c · dL/da_c,
 *   computed by one backward pass for all groups at once.
 *
 * Every pass runs the model in evaluation mode (BatchNorm with running statistics), so a
 * channel's response to an image does not depend on which other images share its batch.
 */
import * as tf from '@tensorflow/tfjs';
import { forward } from '../../model/forward';
import { gatherBatch } from '../../data/preprocess';
import type { ReidSplit } from '../../data/types';
import { Prng } from '../../util/prng';
import { LabError } from '../../errors';
import { batchHardTripletLoss } from '../../train/losses';
import type { CriterionContext, CriterionData } from '../criterion';
import type { DependencyGroup } from '../groups';
import { checkCancelled } from './context';
import { checkGroupAgainstModel } from './filters';

/** The context's data, checked: present, positive sizes, images the model's size. */
export function requireData(ctx: CriterionContext, criterion: string): CriterionData {
  const d = ctx.data;
  if (!d) throw new LabError('bad-argument', `${criterion} scores channels from images, but no data was given; pass a training split with the number of batches and the batch size.`);
  const posInt = (v: number, what: string) => {
    if (!Number.isInteger(v) || v < 1) throw new LabError('bad-argument', `${criterion} needs a whole number of ${what}, at least 1; found ${String(v)}.`);
  };
  posInt(d.batches, 'batches');
  posInt(d.batchSize, 'images per batch');
  const { height, width } = ctx.model.spec.input;
  if (d.split.height !== height || d.split.width !== width) {
    throw new LabError('bad-dataset', `${criterion}'s images are ${d.split.height}x${d.split.width}, but the model expects ${height}x${width}.`);
  }
  if (d.split.count < 1) throw new LabError('bad-dataset', `${criterion} needs at least one image; the split is empty.`);
  for (const g of ctx.groups) checkGroupAgainstModel(ctx.model, g);
  return d;
}

/**
 * Up to batches x batchSize distinct images of the split, chosen with the seeded PRNG (all of
 * them, shuffled, if the split is smaller). The same seed picks the same images.
 */
export function sampleImages(split: ReidSplit, data: CriterionData, seed: number): number[] {
  const all = Array.from({ length: split.count }, (_, i) => i);
  new Prng(seed).fork('criterion-images').shuffle(all);
  return all.slice(0, Math.min(split.count, data.batches * data.batchSize));
}

/** One tapped 4-D activation of a group in one batch. */
export interface SiteActivation {
  group: string;
  /** Index of the site among the group's 4-D sites, in execution order. */
  site: number;
  /** Row-major values: [B, C] when pooled, else [B, H, W, C]. */
  data: Float32Array;
  shape: number[];
}

function keyOwners(groups: readonly DependencyGroup[]): Map<string, string> {
  const owners = new Map<string, string>();
  for (const g of groups) for (const k of g.maskKeys) owners.set(k, g.id);
  return owners;
}

/**
 * Run the images in batches and hand every batch's tapped activations of the given groups to
 * `visit` (read back to plain arrays; no tensor outlives the batch). `pool` averages each
 * feature map over its positions before reading it back.
 */
export async function forEachActivationBatch(
  ctx: CriterionContext,
  groups: readonly DependencyGroup[],
  images: readonly number[],
  batchSize: number,
  pool: boolean,
  label: string,
  visit: (sites: SiteActivation[], batchImages: readonly number[]) => void | Promise<void>,
): Promise<void> {
  const { model } = ctx;
  const split = ctx.data!.split;
  const owners = keyOwners(groups);
  for (let start = 0; start < images.length; start += batchSize) {
    checkCancelled(ctx, label);
    const idx = images.slice(start, start + batchSize);
    const kept: { group: string; site: number; t: tf.Tensor }[] = [];
    const siteCount = new Map<string, number>();
    try {
      tf.tidy(() => {
        const x = gatherBatch(split, idx);
        forward(model.spec, model.params, x, {
          training: false,
          onMaskSite: (key, a) => {
            const group = owners.get(key);
            if (!group || a.rank !== 4) return;
            const site = siteCount.get(group) ?? 0;
            siteCount.set(group, site + 1);
            kept.push({ group, site, t: tf.keep(pool ? tf.mean(a, [1, 2]) : a.clone()) });
          },
        });
      });
      const datas = await Promise.all(kept.map((k) => k.t.data() as Promise<Float32Array>));
      await visit(
        kept.map((k, i) => ({ group: k.group, site: k.site, data: datas[i], shape: k.t.shape.slice() })),
        idx,
      );
    } finally {
      for (const k of kept) k.t.dispose();
    }
    ctx.onProgress?.(Math.min(1, (start + idx.length) / images.length), `${label}: ${start + idx.length} of ${images.length} images`);
  }
}

/** Per group, per 4-D site, the channels' global-average-pooled responses: [n, C] row-major. */
export interface PooledSites {
  n: number;
  channels: number;
  sites: Float32Array[];
}

/** Globally pooled activations of every group over the images. */
export async function collectPooledActivations(
  ctx: CriterionContext,
  groups: readonly DependencyGroup[],
  images: readonly number[],
  batchSize: number,
  label: string,
): Promise<Map<string, PooledSites>> {
  const out = new Map<string, PooledSites>(groups.map((g) => [g.id, { n: images.length, channels: g.channels, sites: [] }]));
  let row = 0;
  await forEachActivationBatch(ctx, groups, images, batchSize, true, label, (sites, batch) => {
    for (const s of sites) {
      const p = out.get(s.group)!;
      if (!p.sites[s.site]) p.sites[s.site] = new Float32Array(images.length * p.channels);
      p.sites[s.site].set(s.data, row * p.channels);
    }
    row += batch.length;
  });
  return out;
}

/**
 * Molchanov's first-order Taylor term per channel, for every group at once. For each batch,
 * g_c = dLoss/dmask_c = Σ_{images, positions, sites} a_c · dL/da_c (the mask is a variable of
 * ones, applied at all of the group's sites); the batch's term is |g_c| / (B · P), P the number of
 * positions summed over the group's 4-D sites, i.e. |mean over batch and positions of a·dL/da|.
 * Returned: the mean of that term over the batches. Loss: batch-hard triplet on the pooled
 * features (the ReID training loss), with the images' pids as labels.
 */
export async function collectTaylor(
  ctx: CriterionContext,
  groups: readonly DependencyGroup[],
  batches: readonly (readonly number[])[],
  margin: number,
  label: string,
): Promise<Map<string, Float64Array>> {
  const { model } = ctx;
  const split = ctx.data!.split;
  const owners = keyOwners(groups);
  const sums = new Map(groups.map((g) => [g.id, new Float64Array(g.channels)]));
  const vars = new Map<string, tf.Variable>();
  try {
    for (const g of groups) {
      const ones = tf.ones([g.channels]);
      vars.set(g.id, tf.variable(ones, true));
      ones.dispose();
    }
    const masks = new Map<string, tf.Tensor1D>();
    for (const g of groups) for (const k of g.maskKeys) masks.set(k, vars.get(g.id)! as unknown as tf.Tensor1D);
    const varList = groups.map((g) => vars.get(g.id)!);
    for (let b = 0; b < batches.length; b++) {
      checkCancelled(ctx, label);
      const idx = batches[b];
      const labels = idx.map((i) => split.pids[i]);
      const positions = new Map<string, number>();
      const x = gatherBatch(split, idx);
      let result: { value: tf.Scalar; grads: tf.NamedTensorMap } | undefined;
      try {
        result = tf.variableGrads(() => {
          const out = forward(model.spec, model.params, x, {
            training: false,
            masks,
            onMaskSite: (key, a) => {
              const group = owners.get(key);
              if (group && a.rank === 4) positions.set(group, (positions.get(group) ?? 0) + a.shape[1]! * a.shape[2]!);
            },
          });
          return batchHardTripletLoss(out.pooled, labels, margin).loss;
        }, varList);
        const grads = result.grads;
        // A mask the loss does not reach has no gradient entry: its channels' term is 0.
        const datas = await Promise.all(
          varList.map((v) => (grads[v.name] ? (grads[v.name].data() as Promise<Float32Array>) : Promise.resolve(new Float32Array(v.size)))),
        );
        groups.forEach((g, i) => {
          const denom = idx.length * (positions.get(g.id) ?? 1);
          const s = sums.get(g.id)!;
          for (let c = 0; c < g.channels; c++) s[c] += Math.abs(datas[i][c]) / denom;
        });
      } finally {
        x.dispose();
        if (result) {
          result.value.dispose();
          for (const t of Object.values(result.grads)) t.dispose();
        }
      }
      ctx.onProgress?.((b + 1) / batches.length, `${label}: batch ${b + 1} of ${batches.length}`);
    }
  } finally {
    for (const v of vars.values()) v.dispose();
  }
  for (const s of sums.values()) for (let c = 0; c < s.length; c++) s[c] /= batches.length;
  return sums;
}
