/**
 * Parameter names and shapes of a spec, and the ids of its channel dependency groups.
 *
 * Names are the PyTorch state_dict keys of torchvision/torchreid ResNets (`conv1.weight`,
 * `layer1.0.bn1.running_mean`, `layer2.0.downsample.0.weight`), plus `bnneck.*` for the
 * BNNeck BatchNorm1d and `classifier.*` for the ID classifier (torchreid's name).
 *
 * Layout inside the lab (tfjs, NHWC): conv weights are [kh, kw, in, out] (PyTorch: [out, in,
 * kh, kw], converted by permuting (2, 3, 1, 0)); linear weights are [in, out] (PyTorch: [out,
 * in], transposed). Vectors are the same in both.
 */
import type { ResNetSpec } from './spec';

export type ParamRole = 'conv' | 'bn.weight' | 'bn.bias' | 'bn.running_mean' | 'bn.running_var' | 'linear.weight' | 'linear.bias';

export interface ParamInfo {
  name: string;
  /** Shape in the lab's (tfjs) layout. */
  shape: number[];
  role: ParamRole;
  /** Trained by the optimiser (running statistics are not). */
  trainable: boolean;
}

export const BN_SUFFIXES = ['weight', 'bias', 'running_mean', 'running_var'] as const;

function bnParams(prefix: string, c: number): ParamInfo[] {
  return [
    { name: `${prefix}.weight`, shape: [c], role: 'bn.weight', trainable: true },
    { name: `${prefix}.bias`, shape: [c], role: 'bn.bias', trainable: true },
    { name: `${prefix}.running_mean`, shape: [c], role: 'bn.running_mean', trainable: false },
    { name: `${prefix}.running_var`, shape: [c], role: 'bn.running_var', trainable: false },
  ];
}

function convParam(name: string, k: number, inC: number, outC: number): ParamInfo {
  return { name, shape: [k, k, inC, outC], role: 'conv', trainable: true };
}

/** Block prefix, e.g. "layer2.0" for stage index 1, block 0. */
export function blockPrefix(stageIndex: number, blockIndex: number): string {
  return `layer${stageIndex + 1}.${blockIndex}`;
}

/** Every parameter of the spec, in a stable order (stem, stages, head). */
export function listParams(spec: ResNetSpec): ParamInfo[] {
  const out: ParamInfo[] = [];
  out.push(convParam('conv1.weight', 7, 3, spec.stemC), ...bnParams('bn1', spec.stemC));
  spec.stages.forEach((stage, s) => {
    stage.forEach((b, i) => {
      const p = blockPrefix(s, i);
      if (spec.block === 'basic') {
        out.push(convParam(`${p}.conv1.weight`, 3, b.inC, b.mid[0]), ...bnParams(`${p}.bn1`, b.mid[0]));
        out.push(convParam(`${p}.conv2.weight`, 3, b.mid[0], b.outC), ...bnParams(`${p}.bn2`, b.outC));
      } else {
        out.push(convParam(`${p}.conv1.weight`, 1, b.inC, b.mid[0]), ...bnParams(`${p}.bn1`, b.mid[0]));
        out.push(convParam(`${p}.conv2.weight`, 3, b.mid[0], b.mid[1]), ...bnParams(`${p}.bn2`, b.mid[1]));
        out.push(convParam(`${p}.conv3.weight`, 1, b.mid[1], b.outC), ...bnParams(`${p}.bn3`, b.outC));
      }
      if (b.downsample) {
        out.push(convParam(`${p}.downsample.0.weight`, 1, b.inC, b.outC), ...bnParams(`${p}.downsample.1`, b.outC));
      }
    });
  });
  const last = spec.stages[3][spec.stages[3].length - 1].outC;
  if (spec.head.bnneck) out.push(...bnParams('bnneck', last));
  if (spec.head.numClasses > 0) {
    out.push({ name: 'classifier.weight', shape: [last, spec.head.numClasses], role: 'linear.weight', trainable: true });
    out.push({ name: 'classifier.bias', shape: [spec.head.numClasses], role: 'linear.bias', trainable: true });
  }
  return out;
}

/** Parameters that belong to the deployed feature extractor (everything but the ID classifier). */
export function isClassifierParam(name: string): boolean {
  return name.startsWith('classifier.');
}

// ---- Channel dependency group ids -------------------------------------------------------
// A group is a set of channel indices that must be removed together. Ids:
//   "layerS.I.convK"  inner channels produced by conv K of block I in stage S (K < last conv)
//   "trunkS"          the residual trunk of stage S (all convs feeding its chain of adds)
//   "stem"            the stem's output channels, ResNet-50 only: in basic-block nets the stem
//                     output is layer1's identity shortcut, so it belongs to "trunk1".

export const STEM_GROUP = 'stem';

export function innerGroupId(stageIndex: number, blockIndex: number, convIndex1: number): string {
  return `${blockPrefix(stageIndex, blockIndex)}.conv${convIndex1}`;
}

export function trunkGroupId(stageIndex: number): string {
  return `trunk${stageIndex + 1}`;
}

/** Group id of the stem's output channels for this spec. */
export function stemGroupId(spec: ResNetSpec): string {
  return spec.stages[0][0].downsample ? STEM_GROUP : trunkGroupId(0);
}
