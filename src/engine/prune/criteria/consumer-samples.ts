/**
 * Sampled data for the reconstruction criteria (ThiNet, He et al.'s channel pruning): for an
 * inner group, the input patches of its consumer conv (the next conv of the block) at sampled
 * output locations, and the per-channel contributions to that conv's output.
 *
 * For the consumer W [k, k, C, O] (stride s, padding p = (k − 1) / 2) and an output location
 * (i, j) of an image, the patch is X[i·s − p + kh, j·s − p + kw, c] (zero outside the map) in
 * (kh, kw, c) order, matching W reshaped to [k·k·C, O]; the conv's output there is patch · W.
 * Channel c's contribution to output o is Z[c, o] = Σ_{kh,kw} patch[kh, kw, c] · W[kh, kw, c, o],
 * and the output is Σ_c Z[c, ·]. Both criteria only need the contributions' Gram matrix
 * G[c, c′] = Σ_{samples, o} Z[c, o] · Z[c′, o]: removing the set T changes the output by
 * Σ_{c∈T} Z_c, whose squared norm is 1_Tᵀ G 1_T.
 *
 * Samples: `locations` distinct output locations per image (all of them if the map is smaller),
 * chosen by the seeded PRNG per group and image, so scoring and reconstruction see the same
 * samples. X comes from the UNPRUNED model in evaluation mode, all groups in one pass (ThiNet and
 * He et al. prune layer by layer, feeding each layer the already pruned network's input; one pass
 * is the lab's cheaper approximation).
 *
 * Only inner groups have a single consumer conv whose output is the whole effect of the channels;
 * a trunk's channels also flow through identity shortcuts into every later block, so these
 * criteria refuse trunk and stem groups with a LabError.
 */
import * as tf from '@tensorflow/tfjs';
import { Prng } from '../../util/prng';
import { LabError } from '../../errors';
import type { CriterionContext } from '../criterion';
import { CONV_IN_AXIS, type DependencyGroup } from '../groups';
import { forEachActivationBatch } from './activations';

export interface ConsumerConv {
  group: DependencyGroup;
  /** The consumer conv's weight name, e.g. "layer1.0.conv2.weight". */
  param: string;
  k: number;
  stride: number;
  pad: number;
  channels: number;
  outputs: number;
}

/** The consumer conv of an inner group; a LabError for trunk and stem groups. */
export function innerConsumer(ctx: CriterionContext, group: DependencyGroup, criterion: string): ConsumerConv {
  if (group.kind !== 'inner') {
    throw new LabError(
      'bad-argument',
      `${criterion} reconstructs the next conv's output, which only a block's inner channels have; group "${group.id}" is a residual ${group.kind} whose channels also pass through identity shortcuts into every later block. Prune with the "inner" scope, or pick another criterion for trunk channels.`,
      { group: group.id },
    );
  }
  const consumers = group.members.filter((m) => m.role === 'consumer' && m.axis === CONV_IN_AXIS);
  const m = /^layer(\d+)\.(\d+)\.conv(\d+)$/.exec(group.id);
  if (consumers.length !== 1 || !m) throw new Error(`Internal: inner group ${group.id} should have exactly one consumer conv.`);
  const param = consumers[0].param;
  const v = ctx.model.params.get(param);
  if (!v || v.shape[2] !== group.channels) {
    throw new LabError('bad-argument', `Group "${group.id}" has ${group.channels} channels, but this model's ${param} does not read ${group.channels} channels; the groups were computed for a different model.`);
  }
  const block = ctx.model.spec.stages[Number(m[1]) - 1][Number(m[2])];
  // The strided conv of a bottleneck is its 3x3 conv2 (torchvision v1.5); basic blocks stride in conv1.
  const stride = ctx.model.spec.block === 'bottleneck' && param.endsWith('.conv2.weight') ? block.stride : 1;
  const k = v.shape[0]!;
  return { group, param, k, stride, pad: (k - 1) / 2, channels: group.channels, outputs: v.shape[3]! };
}

/** `count` distinct indices of [0, total), sorted (all of them if count >= total). */
function sampleLocations(rng: Prng, total: number, count: number): number[] {
  const all = Array.from({ length: total }, (_, i) => i);
  if (count >= total) return all;
  for (let i = 0; i < count; i++) {
    const r = i + Math.floor(rng.next() * (total - i));
    [all[i], all[r]] = [all[r], all[i]];
  }
  return all.slice(0, count).sort((a, b) => a - b);
}

/**
 * Run the images and hand each group's sampled patches to `visit`: a row-major [n, k·k·C] array
 * (n = samples in this batch). `locations` = samples per image.
 */
export async function forEachPatchBatch(
  ctx: CriterionContext,
  consumers: readonly ConsumerConv[],
  images: readonly number[],
  batchSize: number,
  locations: number,
  label: string,
  visit: (consumer: ConsumerConv, patches: Float32Array, n: number) => void | Promise<void>,
): Promise<void> {
  const byGroup = new Map(consumers.map((c) => [c.group.id, c]));
  const root = new Prng(ctx.seed).fork('consumer-locations');
  await forEachActivationBatch(ctx, consumers.map((c) => c.group), images, batchSize, false, label, async (sites, batch) => {
    for (const s of sites) {
      const c = byGroup.get(s.group)!;
      if (s.site !== 0) continue; // inner groups have one site
      const [b, h, w, ch] = s.shape;
      const oh = Math.floor((h + 2 * c.pad - c.k) / c.stride) + 1;
      const ow = Math.floor((w + 2 * c.pad - c.k) / c.stride) + 1;
      const width = c.k * c.k * ch;
      const locs = batch.map((img) => sampleLocations(root.fork(`${c.group.id}#${img}`), oh * ow, locations));
      const n = locs.reduce((a, l) => a + l.length, 0);
      const patches = new Float32Array(n * width);
      let row = 0;
      for (let bi = 0; bi < b; bi++) {
        for (const loc of locs[bi]) {
          const i = Math.floor(loc / ow);
          const j = loc % ow;
          for (let kh = 0; kh < c.k; kh++) {
            const y = i * c.stride - c.pad + kh;
            if (y < 0 || y >= h) continue;
            for (let kw = 0; kw < c.k; kw++) {
              const x = j * c.stride - c.pad + kw;
              if (x < 0 || x >= w) continue;
              const src = ((bi * h + y) * w + x) * ch;
              patches.set(s.data.subarray(src, src + ch), row * width + (kh * c.k + kw) * ch);
            }
          }
          row++;
        }
      }
      await visit(c, patches, n);
    }
  });
}

/** Largest number of float32 values in one chunk's contribution tensor. */
const CHUNK_VALUES = 1 << 22;

/**
 * Add Σ_{samples, o ∈ outputs} Z[c, o] · Z[c′, o] of these patches into `gram` (C x C, float64),
 * with `weights` the consumer's [k, k, C, O] values. Z for all channels at once is a batched
 * matMul over channels: [C, n, k·k] x [C, k·k, |outputs|].
 */
export async function accumulateContributionGram(
  c: ConsumerConv,
  weights: Float32Array,
  patches: Float32Array,
  n: number,
  outputs: readonly number[],
  gram: Float64Array,
): Promise<void> {
  const kk = c.k * c.k;
  const C = c.channels;
  const O = c.outputs;
  const o2 = outputs.length;
  const sub = new Float32Array(C * kk * o2);
  for (let k = 0; k < kk; k++) for (let ch = 0; ch < C; ch++) for (let i = 0; i < o2; i++) sub[(ch * kk + k) * o2 + i] = weights[(k * C + ch) * O + outputs[i]];
  const w = tf.tensor3d(sub, [C, kk, o2]);
  const chunk = Math.max(1, Math.floor(CHUNK_VALUES / (C * Math.max(kk, o2))));
  try {
    for (let start = 0; start < n; start += chunk) {
      const m = Math.min(chunk, n - start);
      const g = tf.tidy(() => {
        const p = tf.tensor3d(patches.subarray(start * kk * C, (start + m) * kk * C), [m, kk, C]);
        const z = tf.matMul(tf.transpose(p, [2, 0, 1]), w); // [C, m, o2]
        const zt = tf.reshape(z, [C, m * o2]);
        // An explicit transpose: wasm's matMul with transposeB was 10x slower (measured).
        return tf.matMul(zt, tf.transpose(zt));
      });
      let d: Float32Array;
      try {
        d = (await g.data()) as Float32Array;
      } finally {
        g.dispose();
      }
      for (let i = 0; i < d.length; i++) gram[i] += d[i];
    }
  } finally {
    w.dispose();
  }
}

/**
 * The contribution Gram matrix of every consumer over the images. Per batch, `outputs` of the
 * consumer's output channels are drawn at random (seeded; all of them if it has no more), which
 * estimates the full Gram up to a constant factor at a fraction of the cost: ThiNet samples one
 * output channel per location, He et al. use all; a full-width layer4 with all 512 took minutes.
 */
export async function contributionGrams(
  ctx: CriterionContext,
  consumers: readonly ConsumerConv[],
  images: readonly number[],
  batchSize: number,
  locations: number,
  outputs: number,
  label: string,
): Promise<Map<string, Float64Array>> {
  const weights = new Map<string, Float32Array>();
  for (const c of consumers) weights.set(c.group.id, new Float32Array(await ctx.model.params.get(c.param)!.data()));
  const grams = new Map(consumers.map((c) => [c.group.id, new Float64Array(c.channels * c.channels)]));
  const rngs = new Map(consumers.map((c) => [c.group.id, new Prng(ctx.seed).fork(`consumer-outputs#${c.group.id}`)]));
  await forEachPatchBatch(ctx, consumers, images, batchSize, locations, label, (c, patches, n) =>
    accumulateContributionGram(c, weights.get(c.group.id)!, patches, n, sampleLocations(rngs.get(c.group.id)!, c.outputs, outputs), grams.get(c.group.id)!),
  );
  return grams;
}
