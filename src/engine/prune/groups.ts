/**
 * Channel dependency groups of the lab's ResNet: the sets of parameter slices whose channel
 * index must be removed together (design.md, "Pruning vocabulary").
 *
 * - inner group "layerS.I.convK": the channels produced by conv K of a block (K below the
 *   block's last conv). Produced by convK (+ bnK), consumed by conv K+1.
 * - trunk group "trunkS": the channels of stage S's residual chain. Produced by the last conv of
 *   every block of the stage and by its projection shortcut (+ their BNs); consumed by every
 *   block's conv1 and by the next stage's shortcut; for the last trunk also by the BNNeck and
 *   the ID classifier's input rows.
 * - "stem" (ResNet-50): the stem's output channels, consumed by layer1.0's conv1 and shortcut.
 *   In basic-block nets layer1.0 has an identity shortcut, so the stem belongs to "trunk1".
 *
 * Axes are those of the lab's tfjs layout: conv [kh, kw, in, out], linear [in, out], vectors [c].
 */
import type { ResNetSpec } from '../model/spec';
import { BN_SUFFIXES, blockPrefix, innerGroupId, stemGroupId, STEM_GROUP, trunkGroupId } from '../model/names';
import { LabError } from '../errors';

export type GroupKind = 'inner' | 'trunk' | 'stem';
export type PruneScope = 'inner' | 'inner+trunk';

/** Axis of a conv weight [kh, kw, in, out]. */
export const CONV_IN_AXIS = 2;
export const CONV_OUT_AXIS = 3;
/** Axis of a linear weight [in, out]. */
export const LINEAR_IN_AXIS = 0;

export interface GroupMember {
  /** Parameter name (names.ts). */
  param: string;
  /** Axis of the parameter (tfjs layout) that is indexed by the group's channels. */
  axis: number;
  /** Producers compute the channels (conv filters, their BN); consumers read them. */
  role: 'producer' | 'consumer';
}

export interface DependencyGroup {
  id: string;
  kind: GroupKind;
  /** Stage 0..3 (the first stage of the chain for a trunk); -1 for the ResNet-50 stem. */
  stageIndex: number;
  /** Number of channels in the group. */
  channels: number;
  members: GroupMember[];
  /**
   * The ids under which forward() applies this group's mask. Normally [id]; a trunk that spans
   * two stages (a stage whose first block has an identity shortcut, which only happens at
   * extreme width multipliers) is masked under each stage's id.
   */
  maskKeys: string[];
}

/** Which groups a block reads from and writes to, and its inner groups (in conv order). */
export interface BlockGroups {
  stageIndex: number;
  blockIndex: number;
  input: string;
  inner: string[];
  output: string;
}

export interface GroupLayout {
  groups: DependencyGroup[];
  /** Group of the stem's output channels. */
  stem: string;
  blocks: BlockGroups[];
  /** Group of the last trunk (the embedding's channels). */
  last: string;
}

const producer = (param: string, axis: number): GroupMember => ({ param, axis, role: 'producer' });
const consumer = (param: string, axis: number): GroupMember => ({ param, axis, role: 'consumer' });
const bnMembers = (prefix: string, role: GroupMember['role']): GroupMember[] =>
  BN_SUFFIXES.map((s) => ({ param: `${prefix}.${s}`, axis: 0, role }));

/** Walk the network once, recording which group every parameter slice belongs to. */
export function groupLayout(spec: ResNetSpec): GroupLayout {
  const groups: DependencyGroup[] = [];
  const byId = new Map<string, DependencyGroup>();
  const open = (id: string, kind: GroupKind, stageIndex: number, channels: number): DependencyGroup => {
    const g: DependencyGroup = { id, kind, stageIndex, channels, members: [], maskKeys: [id] };
    groups.push(g);
    byId.set(id, g);
    return g;
  };

  const stemId = stemGroupId(spec);
  const stem = open(stemId, stemId === STEM_GROUP ? 'stem' : 'trunk', stemId === STEM_GROUP ? -1 : 0, spec.stemC);
  stem.members.push(producer('conv1.weight', CONV_OUT_AXIS), ...bnMembers('bn1', 'producer'));

  let current = stem;
  const blocks: BlockGroups[] = [];
  spec.stages.forEach((stage, s) => {
    stage.forEach((b, i) => {
      const p = blockPrefix(s, i);
      const input = current;
      input.members.push(consumer(`${p}.conv1.weight`, CONV_IN_AXIS));
      if (b.downsample) {
        // forward() masks a whole stage under one trunk id, so a chain may only restart at a
        // stage's first block (torchvision's layout).
        if (i > 0) {
          throw new LabError(
            'bad-argument',
            `Block ${p} has a projection shortcut in the middle of its stage; channel pruning supports projection shortcuts only in a stage's first block.`,
          );
        }
        input.members.push(consumer(`${p}.downsample.0.weight`, CONV_IN_AXIS));
        current = open(trunkGroupId(s), 'trunk', s, b.outC);
        current.members.push(producer(`${p}.downsample.0.weight`, CONV_OUT_AXIS), ...bnMembers(`${p}.downsample.1`, 'producer'));
      } else if (i === 0 && !current.maskKeys.includes(trunkGroupId(s))) {
        // Identity shortcut from the previous stage: the chain continues into this stage.
        current.maskKeys.push(trunkGroupId(s));
      }
      const inner: string[] = [];
      b.mid.forEach((m, k) => {
        const g = open(innerGroupId(s, i, k + 1), 'inner', s, m);
        g.members.push(producer(`${p}.conv${k + 1}.weight`, CONV_OUT_AXIS), ...bnMembers(`${p}.bn${k + 1}`, 'producer'));
        g.members.push(consumer(`${p}.conv${k + 2}.weight`, CONV_IN_AXIS));
        inner.push(g.id);
      });
      const lastConv = b.mid.length + 1;
      current.members.push(producer(`${p}.conv${lastConv}.weight`, CONV_OUT_AXIS), ...bnMembers(`${p}.bn${lastConv}`, 'producer'));
      blocks.push({ stageIndex: s, blockIndex: i, input: input.id, inner, output: current.id });
    });
  });

  if (spec.head.bnneck) current.members.push(...bnMembers('bnneck', 'consumer'));
  if (spec.head.numClasses > 0) current.members.push(consumer('classifier.weight', LINEAR_IN_AXIS));

  // Channel counts must agree at every member (the spec is consistent, but a trunk that spans
  // stages is only well defined if the counts match, which validateSpec guarantees).
  for (const bg of blocks) {
    const b = spec.stages[bg.stageIndex][bg.blockIndex];
    if (byId.get(bg.input)!.channels !== b.inC || byId.get(bg.output)!.channels !== b.outC) {
      throw new LabError('bad-argument', `Block ${blockPrefix(bg.stageIndex, bg.blockIndex)}'s channel counts do not chain with its neighbours'.`);
    }
  }
  return { groups, stem: stem.id, blocks, last: current.id };
}

/** Every dependency group of the spec, in a stable order (stem, then blocks in order). */
export function dependencyGroups(spec: ResNetSpec): DependencyGroup[] {
  return groupLayout(spec).groups;
}

/** Groups a pruning scope may cut. The stem counts as trunk. */
export function groupsInScope(spec: ResNetSpec, scope: PruneScope): DependencyGroup[] {
  const all = dependencyGroups(spec);
  return scope === 'inner' ? all.filter((g) => g.kind === 'inner') : all;
}

/**
 * Layers commonly left unpruned: the stem (few channels, every later layer depends on it) and
 * the last stage (its trunk is the embedding; ReID accuracy is most sensitive there).
 */
export interface Protection {
  /** Protect the group holding the stem's output (the "stem" group, or "trunk1" in basic nets). */
  stem: boolean;
  /** Protect every group of the last stage (its inner groups and its trunk). */
  lastStage: boolean;
}

export const NO_PROTECTION: Protection = { stem: false, lastStage: false };

/** Ids of the groups a protection policy keeps whole. */
export function protectedGroupIds(spec: ResNetSpec, protection: Protection): Set<string> {
  const layout = groupLayout(spec);
  const out = new Set<string>();
  if (protection.stem) out.add(layout.stem);
  if (protection.lastStage) {
    const last = spec.stages.length - 1;
    for (const bg of layout.blocks) {
      if (bg.stageIndex !== last) continue;
      bg.inner.forEach((id) => out.add(id));
      out.add(bg.output);
    }
  }
  return out;
}

/** The groups a criterion may cut: in scope and not protected. */
export function prunableGroups(spec: ResNetSpec, scope: PruneScope, protection: Protection = NO_PROTECTION): DependencyGroup[] {
  const prot = protectedGroupIds(spec, protection);
  return groupsInScope(spec, scope).filter((g) => !prot.has(g.id));
}

/** The conv weights whose filters (out axis) produce a group's channels. */
export function producerConvs(group: DependencyGroup): string[] {
  return group.members.filter((m) => m.role === 'producer' && m.axis === CONV_OUT_AXIS).map((m) => m.param);
}

/** The BatchNorm prefixes (e.g. "layer1.0.bn1") that normalise a group's channels right after they are produced. */
export function producerBatchNorms(group: DependencyGroup): string[] {
  return group.members.filter((m) => m.role === 'producer' && m.param.endsWith('.weight') && m.axis === 0).map((m) => m.param.slice(0, -'.weight'.length));
}
