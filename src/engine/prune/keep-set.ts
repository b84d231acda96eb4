/**
 * Keep-sets: which channels of each dependency group survive a pruning step. A keep-set lists,
 * per group id, the kept channel indices in increasing order without repeats; a group that is
 * absent keeps all its channels. Criteria produce keep-sets; masks and surgery consume them.
 */
import { cloneSpec, validateSpec, type ResNetSpec } from '../model/spec';
import { LabError } from '../errors';
import { groupLayout, type DependencyGroup } from './groups';

export type KeepSets = Map<string, number[]>;

function fail(message: string, detail?: Record<string, unknown>): never {
  throw new LabError('bad-keep-set', message, detail);
}

function groupsById(spec: ResNetSpec): Map<string, DependencyGroup> {
  return new Map(groupLayout(spec).groups.map((g) => [g.id, g]));
}

function describeKnown(ids: string[]): string {
  const shown = ids.slice(0, 6).map((id) => `"${id}"`).join(', ');
  return ids.length > 6 ? `${shown}, ... (${ids.length} in all)` : shown;
}

function unknownGroup(spec: ResNetSpec, id: string, known: Map<string, DependencyGroup>): never {
  return fail(`The keep-set names group "${id}", which this ResNet-${spec.depth} does not have; its groups are ${describeKnown([...known.keys()])}.`, {
    group: id,
  });
}

/**
 * Check a keep-set against a spec. Throws LabError('bad-keep-set') naming the group, its size
 * and what was given; returns nothing and changes nothing.
 */
export function validateKeepSets(spec: ResNetSpec, keep: ReadonlyMap<string, readonly number[]>): void {
  const known = groupsById(spec);
  for (const [id, idx] of keep) {
    const g = known.get(id);
    if (!g) unknownGroup(spec, id, known);
    const n = g.channels;
    const detail = { group: id, channels: n };
    if (!Array.isArray(idx)) fail(`The keep-set of group "${id}" (${n} channels) must be a list of channel indices; found ${typeof idx}.`, detail);
    if (idx.length === 0) fail(`The keep-set of group "${id}" is empty, which would remove all ${n} of its channels; keep at least one.`, detail);
    for (let k = 0; k < idx.length; k++) {
      const v = idx[k];
      if (!Number.isInteger(v) || v < 0 || v >= n) {
        fail(`Group "${id}" has ${n} channels (indices 0 to ${n - 1}), but its keep-set lists ${String(v)}.`, { ...detail, index: v });
      }
      if (k > 0 && v === idx[k - 1]) fail(`The keep-set of group "${id}" (${n} channels) lists channel ${v} twice.`, { ...detail, index: v });
      if (k > 0 && v < idx[k - 1]) {
        fail(`The keep-set of group "${id}" (${n} channels) must list channels in increasing order; found ${idx[k - 1]} before ${v}.`, { ...detail, index: v });
      }
    }
  }
}

/**
 * Indices of the `count` highest scores, in increasing index order. Ties are broken by the lower
 * index, so equal scores (e.g. all-zero filters) give a deterministic choice.
 */
export function keepTopScores(scores: ArrayLike<number>, count: number): number[] {
  const n = scores.length;
  if (!Number.isInteger(count) || count < 1 || count > n) {
    throw new LabError('bad-argument', `The number of channels to keep must be a whole number from 1 to ${n}; found ${count}.`);
  }
  for (let i = 0; i < n; i++) {
    if (Number.isNaN(scores[i])) throw new LabError('bad-argument', `Channel ${i}'s importance score is not a number (NaN); every score must be a number.`);
  }
  const order = Array.from({ length: n }, (_, i) => i);
  order.sort((a, b) => scores[b] - scores[a] || a - b);
  return order.slice(0, count).sort((a, b) => a - b);
}

/**
 * Keep-sets from per-channel scores: for each group in `counts`, its `count` highest-scoring
 * channels (keepTopScores). Every group in `counts` needs a score per channel.
 */
export function keepSetsFromScores(
  spec: ResNetSpec,
  scores: ReadonlyMap<string, ArrayLike<number>>,
  counts: ReadonlyMap<string, number>,
): KeepSets {
  const known = groupsById(spec);
  const out: KeepSets = new Map();
  for (const [id, count] of counts) {
    const g = known.get(id);
    if (!g) unknownGroup(spec, id, known);
    const s = scores.get(id);
    if (!s || s.length !== g.channels) {
      throw new LabError('bad-argument', `Group "${id}" has ${g.channels} channels, so it needs ${g.channels} importance scores; found ${s ? s.length : 'none'}.`);
    }
    if (!Number.isInteger(count) || count < 1 || count > g.channels) {
      fail(`Group "${id}" has ${g.channels} channels, so it can keep from 1 to ${g.channels}; asked to keep ${String(count)}.`, { group: id, channels: g.channels });
    }
    out.set(id, keepTopScores(s, count));
  }
  return out;
}

/** Number of kept channels of every group (groups without a keep-set keep all). */
export function keepCounts(spec: ResNetSpec, keep: ReadonlyMap<string, readonly number[]>): Map<string, number> {
  validateKeepSets(spec, keep);
  const out = new Map<string, number>();
  for (const g of groupLayout(spec).groups) out.set(g.id, keep.get(g.id)?.length ?? g.channels);
  return out;
}

/** The keep-set that keeps every channel of every group (an explicit identity). */
export function keepAll(spec: ResNetSpec): KeepSets {
  return new Map(groupLayout(spec).groups.map((g) => [g.id, Array.from({ length: g.channels }, (_, i) => i)]));
}

/**
 * The spec of the pruned network: same architecture, `keepCounts` channels per group (groups
 * absent keep all). Pure: the input spec is not changed. The cost model uses it to predict a
 * pruned model's cost without touching weights.
 */
export function prunedSpec(spec: ResNetSpec, counts: ReadonlyMap<string, number>): ResNetSpec {
  const layout = groupLayout(spec);
  const known = new Map(layout.groups.map((g) => [g.id, g]));
  for (const [id, c] of counts) {
    const g = known.get(id);
    if (!g) unknownGroup(spec, id, known);
    if (!Number.isInteger(c) || c < 1 || c > g.channels) {
      fail(`Group "${id}" has ${g.channels} channels, so it can keep from 1 to ${g.channels}; asked to keep ${String(c)}.`, { group: id, channels: g.channels });
    }
  }
  const count = (id: string) => counts.get(id) ?? known.get(id)!.channels;
  const out = cloneSpec(spec);
  out.stemC = count(layout.stem);
  for (const bg of layout.blocks) {
    const b = out.stages[bg.stageIndex][bg.blockIndex];
    b.inC = count(bg.input);
    b.mid = bg.inner.map(count);
    b.outC = count(bg.output);
  }
  validateSpec(out);
  return out;
}
