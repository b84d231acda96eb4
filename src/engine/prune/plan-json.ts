/**
 * Prune plans as JSON files (docs/PRUNING_PLAN.md): per dependency group the kept channel
 * indices, the criterion and settings that chose them, and the architecture they were chosen
 * for (full spec plus a fingerprint). A plan saved here can be applied again elsewhere to a
 * model of the same architecture (applyPlan), giving the same pruned model when the weights are
 * the same, and the same channel indices cut whatever the weights.
 *
 * Parsing checks everything before returning, with a sentence per problem: the format, the
 * spec (and that the fingerprint matches it), the settings (resolvePruneSettings), every group
 * id, size and index (validateKeepSets), and, when a target spec is given, that the plan was
 * made for it (naming the first layer that differs). Costs are recomputed from the spec rather
 * than trusted from the file.
 */
import { LabError } from '../errors';
import { cloneSpec, SpecError, validateSpec, type ResNetSpec } from '../model/spec';
import { hashString } from '../util/prng';
import type { CriterionId } from './criterion';
import { groupLayout, groupsInScope, type GroupKind } from './groups';
import { prunedSpec, validateKeepSets, type KeepSets } from './keep-set';
import { PLAN_FORMAT, type PlannedGroup, type PrunePlan } from './plan';
import { resolvePruneSettings, type PruneSettings } from './settings';
import { specCost } from './target';

export const PLAN_JSON_FORMAT = 'prunability-lab/prune-plan-json@1';

export interface PlanJsonGroup {
  id: string;
  kind: GroupKind;
  /** Channels of the group in the unpruned (plan's) spec. */
  channels: number;
  /** Kept channel indices, increasing. */
  keep: number[];
}

export interface PlanJson {
  format: typeof PLAN_JSON_FORMAT;
  /** What the plan was made for: the full spec and its fingerprint ("fnv1a32:xxxxxxxx"). */
  architecture: { fingerprint: string; description: string; spec: ResNetSpec };
  criterion: CriterionId;
  criterionName: string;
  reconstructs: boolean;
  settings: PruneSettings;
  normalisation: string;
  rate: number;
  removedFraction: number;
  targetMet: boolean;
  message?: string;
  /** Informational: recomputed from the spec on parsing. */
  cost: { before: { macs: number; params: number }; after: { macs: number; params: number } };
  groups: PlanJsonGroup[];
}

function fail(message: string, detail?: Record<string, unknown>): never {
  throw new LabError('bad-argument', message, detail);
}

/** Canonical JSON (sorted keys), so the fingerprint does not depend on key order. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

/** Fingerprint of a spec: every field that decides the groups, their sizes and the costs. */
export function specFingerprint(spec: ResNetSpec): string {
  return `fnv1a32:${hashString(canonical(spec)).toString(16).padStart(8, '0')}`;
}

function describeSpec(spec: ResNetSpec): string {
  return `ResNet-${spec.depth} (width ${spec.widthMultiplier}, stem ${spec.stemC} channels, embedding ${spec.stages[3][spec.stages[3].length - 1].outC}, input ${spec.input.height}x${spec.input.width}, last stride ${spec.lastStride})`;
}

/** The first difference between two specs, as a phrase ("layer2.0 has 64 inner channels here and 32 there"). */
export function specDifference(a: ResNetSpec, b: ResNetSpec): string | undefined {
  if (a.depth !== b.depth) return `the plan is for a ResNet-${a.depth}, the model is a ResNet-${b.depth}`;
  if (a.stemC !== b.stemC) return `the stem has ${a.stemC} channels in the plan's model and ${b.stemC} in this one`;
  for (let s = 0; s < 4; s++) {
    for (let i = 0; i < Math.max(a.stages[s].length, b.stages[s].length); i++) {
      const x = a.stages[s][i];
      const y = b.stages[s][i];
      const where = `layer${s + 1}.${i}`;
      if (!x || !y) return `${where} exists in only one of them`;
      if (x.mid.join() !== y.mid.join()) return `${where} has inner channels [${x.mid.join(', ')}] in the plan's model and [${y.mid.join(', ')}] in this one`;
      if (x.outC !== y.outC) return `${where} outputs ${x.outC} channels in the plan's model and ${y.outC} in this one`;
      if (x.stride !== y.stride || x.downsample !== y.downsample) return `${where} has a different stride or shortcut`;
    }
  }
  if (a.input.height !== b.input.height || a.input.width !== b.input.width) {
    return `the plan's model takes ${a.input.height}x${a.input.width} images and this one ${b.input.height}x${b.input.width}`;
  }
  if (a.lastStride !== b.lastStride) return `the last stride is ${a.lastStride} in the plan's model and ${b.lastStride} in this one`;
  if (a.head.bnneck !== b.head.bnneck) return `one has a BNNeck and the other not`;
  if (a.head.numClasses !== b.head.numClasses) return `the ID classifier has ${a.head.numClasses} classes in the plan's model and ${b.head.numClasses} in this one`;
  if (a.widthMultiplier !== b.widthMultiplier) return `the width multiplier is ${a.widthMultiplier} in the plan's model and ${b.widthMultiplier} in this one`;
  return undefined;
}

/** The plan as a JSON object (see docs/PRUNING_PLAN.md). */
export function planToJsonObject(plan: PrunePlan): PlanJson {
  const layout = groupLayout(plan.spec);
  const kinds = new Map(layout.groups.map((g) => [g.id, g]));
  const groups: PlanJsonGroup[] = plan.groups.map((g) => ({
    id: g.id,
    kind: g.kind,
    channels: g.channels,
    keep: [...(plan.keep.get(g.id) ?? Array.from({ length: kinds.get(g.id)?.channels ?? g.channels }, (_, i) => i))],
  }));
  const out: PlanJson = {
    format: PLAN_JSON_FORMAT,
    architecture: { fingerprint: specFingerprint(plan.spec), description: describeSpec(plan.spec), spec: cloneSpec(plan.spec) },
    criterion: plan.criterion,
    criterionName: plan.criterionName,
    reconstructs: plan.reconstructs,
    settings: structuredClone(plan.settings),
    normalisation: plan.normalisation,
    rate: plan.rate,
    removedFraction: plan.removedFraction,
    targetMet: plan.targetMet,
    cost: { before: { ...plan.before }, after: { ...plan.after } },
    groups,
  };
  if (plan.message) out.message = plan.message;
  return out;
}

/** Pretty JSON text; index lists stay on one line each. */
export function serialisePlan(plan: PrunePlan): string {
  const text = JSON.stringify(planToJsonObject(plan), null, 2);
  return text.replace(/\[\s*(-?\d[\d.e+-]*(?:,\s*-?\d[\d.e+-]*)*)\s*\]/g, (_, body: string) => `[${body.split(/,\s*/).join(', ')}]`) + '\n';
}

const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * Parse and validate plan JSON (text or an already parsed object). With `forSpec`, also check
 * the plan was made for exactly that architecture.
 */
export function parsePlan(input: string | unknown, forSpec?: ResNetSpec): PrunePlan {
  let raw: unknown = input;
  if (typeof input === 'string') {
    try {
      raw = JSON.parse(input);
    } catch (e) {
      fail(`The pruning plan is not valid JSON (${(e as Error).message}).`);
    }
  }
  if (!isObj(raw)) fail('A pruning plan file holds one JSON object; found something else.');
  if (raw.format !== PLAN_JSON_FORMAT) fail(`This is not a pruning plan of the lab: its "format" is ${JSON.stringify(raw.format)}; expected "${PLAN_JSON_FORMAT}".`);
  const arch = raw.architecture;
  if (!isObj(arch) || !isObj(arch.spec)) fail('The pruning plan has no "architecture.spec": the model it was made for must be described.');
  const spec = arch.spec as unknown as ResNetSpec;
  try {
    validateSpec(spec);
  } catch (e) {
    if (e instanceof SpecError) fail(`The pruning plan's architecture is not a valid ResNet spec: ${e.message}`);
    throw e;
  }
  const fp = specFingerprint(spec);
  if (arch.fingerprint !== fp) {
    fail(`The pruning plan's architecture fingerprint ${JSON.stringify(arch.fingerprint)} does not match its spec (${fp}); the file was edited or damaged.`);
  }
  if (forSpec) {
    const diff = specDifference(spec, forSpec);
    if (diff) fail(`This pruning plan was made for a different architecture: ${diff}. Plan again for this model.`, { expected: fp, found: specFingerprint(forSpec) });
  }
  const settings: PruneSettings = resolvePruneSettings(raw.settings as PruneSettings);
  if (raw.criterion !== settings.criterion) fail(`The pruning plan names criterion ${JSON.stringify(raw.criterion)} but its settings name "${settings.criterion}".`);
  if (!Array.isArray(raw.groups)) fail('The pruning plan has no "groups" list.');

  const known = new Map(groupLayout(spec).groups.map((g) => [g.id, g]));
  const inScope = new Set(groupsInScope(spec, settings.scope).map((g) => g.id));
  const keep: KeepSets = new Map();
  const planned: PlannedGroup[] = [];
  for (const [i, g] of (raw.groups as unknown[]).entries()) {
    if (!isObj(g) || typeof g.id !== 'string') fail(`Entry ${i} of the plan's "groups" must be an object with an "id".`);
    const group = known.get(g.id);
    if (!group) {
      fail(`The pruning plan names group "${g.id}", which a ${describeSpec(spec)} does not have.`, { group: g.id });
    }
    if (keep.has(g.id)) fail(`The pruning plan lists group "${g.id}" twice.`, { group: g.id });
    if (g.kind !== group.kind) {
      fail(`The pruning plan says group "${g.id}" is of kind ${JSON.stringify(g.kind)}; in its architecture it is an ${group.kind} group. The file was edited or damaged.`, { group: g.id });
    }
    if (!inScope.has(g.id)) {
      fail(`The pruning plan's scope is "${settings.scope}", but it lists the ${group.kind} group "${g.id}", which that scope leaves alone. The file was edited or damaged; plan again with the scope you want.`, { group: g.id });
    }
    if (g.channels !== group.channels) fail(`The pruning plan says group "${g.id}" has ${String(g.channels)} channels; in its architecture it has ${group.channels}.`, { group: g.id });
    if (!Array.isArray(g.keep)) fail(`Group "${g.id}" of the pruning plan needs a "keep" list of channel indices.`, { group: g.id });
    keep.set(g.id, [...(g.keep as number[])]);
    planned.push({ id: g.id, kind: group.kind, channels: group.channels, kept: g.keep.length });
  }
  validateKeepSets(spec, keep); // LabError('bad-keep-set') naming the group and the index
  const counts = new Map(planned.map((g) => [g.id, g.kept]));
  const num = (v: unknown, what: string) => {
    if (typeof v !== 'number' || !Number.isFinite(v)) fail(`The pruning plan's "${what}" must be a number; found ${JSON.stringify(v)}.`);
    return v;
  };
  const plan: PrunePlan = {
    format: PLAN_FORMAT,
    criterion: settings.criterion,
    criterionName: typeof raw.criterionName === 'string' ? raw.criterionName : settings.criterion,
    reconstructs: raw.reconstructs === true,
    settings,
    spec: cloneSpec(spec),
    keep,
    groups: planned,
    rate: num(raw.rate, 'rate'),
    removedFraction: num(raw.removedFraction, 'removedFraction'),
    normalisation: typeof raw.normalisation === 'string' ? raw.normalisation : '',
    before: specCost(spec),
    after: specCost(prunedSpec(spec, counts)),
    targetMet: raw.targetMet !== false,
  };
  if (typeof raw.message === 'string') plan.message = raw.message;
  return plan;
}
