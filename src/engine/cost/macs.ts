/**
 * Analytic cost of a ResNet spec: multiply-accumulates (MACs) and parameters, per layer and in
 * total.
 *
 * Counting rules (torchvision / fvcore / thop "conv + linear" convention, the one behind the
 * familiar "ResNet-50: 4.09 GMACs"):
 *  - conv: outH * outW * outC * inC * kh * kw MACs (no bias in ResNet convs; groups = 1);
 *  - linear: in * out MACs;
 *  - BatchNorm, ReLU, max/avg pooling and the residual adds are NOT counted as MACs (they are
 *    elementwise or comparisons, a few percent at most, and folding BN into the conv removes it);
 *  - parameters are learnable tensors only: conv and linear weights, linear bias, BatchNorm
 *    weight and bias. Running statistics are buffers, not parameters (torchvision counts them
 *    the same way).
 *  MACs, not FLOPs: FLOPs = 2 x MACs, converted only where a comparison needs it.
 *
 * The lab's headline numbers describe the deployed feature extractor, which excludes the ID
 * classifier (used only in training; the paper's counts exclude it too). Totals with the
 * classifier are reported alongside for comparison with torchvision's published figures.
 */
import type { ResNetSpec } from '../model/spec';
import { blockPrefix } from '../model/names';

export type LayerKind = 'conv' | 'bn' | 'linear';

export interface LayerCost {
  /** PyTorch module name: "conv1", "layer2.0.conv2", "layer2.0.downsample.0", "bnneck", "classifier". */
  name: string;
  kind: LayerKind;
  macs: number;
  params: number;
  /** Output size: [h, w, channels] for 2-D layers, [features] for the head. */
  out: number[];
  /** Part of the ID classifier (excluded from the extractor's totals). */
  classifier: boolean;
}

export interface ModelCost {
  layers: LayerCost[];
  /** Deployed extractor (no ID classifier): the lab's headline numbers. */
  macs: number;
  params: number;
  /** Including the ID classifier, for comparison with torchvision's figures. */
  macsWithClassifier: number;
  paramsWithClassifier: number;
}

const convOut = (n: number, k: number, s: number, p: number) => Math.floor((n + 2 * p - k) / s) + 1;

/** Per-layer MACs and parameters in execution order. */
export function layerCosts(spec: ResNetSpec): LayerCost[] {
  const layers: LayerCost[] = [];
  let h = spec.input.height;
  let w = spec.input.width;

  const conv = (name: string, inC: number, outC: number, k: number, stride: number, inH: number, inW: number): [number, number] => {
    const pad = (k - 1) / 2;
    const oh = convOut(inH, k, stride, pad);
    const ow = convOut(inW, k, stride, pad);
    layers.push({ name, kind: 'conv', macs: oh * ow * outC * inC * k * k, params: outC * inC * k * k, out: [oh, ow, outC], classifier: false });
    return [oh, ow];
  };
  const bn = (name: string, c: number, out: number[]) => layers.push({ name, kind: 'bn', macs: 0, params: 2 * c, out, classifier: false });

  [h, w] = conv('conv1', 3, spec.stemC, 7, 2, h, w);
  bn('bn1', spec.stemC, [h, w, spec.stemC]);
  h = convOut(h, 3, 2, 1); // max pool 3x3/2
  w = convOut(w, 3, 2, 1);

  spec.stages.forEach((stage, s) => {
    stage.forEach((b, i) => {
      const p = blockPrefix(s, i);
      let oh: number;
      let ow: number;
      if (spec.block === 'basic') {
        [oh, ow] = conv(`${p}.conv1`, b.inC, b.mid[0], 3, b.stride, h, w);
        bn(`${p}.bn1`, b.mid[0], [oh, ow, b.mid[0]]);
        conv(`${p}.conv2`, b.mid[0], b.outC, 3, 1, oh, ow);
        bn(`${p}.bn2`, b.outC, [oh, ow, b.outC]);
      } else {
        conv(`${p}.conv1`, b.inC, b.mid[0], 1, 1, h, w);
        bn(`${p}.bn1`, b.mid[0], [h, w, b.mid[0]]);
        [oh, ow] = conv(`${p}.conv2`, b.mid[0], b.mid[1], 3, b.stride, h, w);
        bn(`${p}.bn2`, b.mid[1], [oh, ow, b.mid[1]]);
        conv(`${p}.conv3`, b.mid[1], b.outC, 1, 1, oh, ow);
        bn(`${p}.bn3`, b.outC, [oh, ow, b.outC]);
      }
      if (b.downsample) {
        conv(`${p}.downsample.0`, b.inC, b.outC, 1, b.stride, h, w);
        bn(`${p}.downsample.1`, b.outC, [oh, ow, b.outC]);
      }
      h = oh;
      w = ow;
    });
  });

  const last = spec.stages[3][spec.stages[3].length - 1].outC;
  if (spec.head.bnneck) bn('bnneck', last, [last]);
  const n = spec.head.numClasses;
  if (n > 0) layers.push({ name: 'classifier', kind: 'linear', macs: last * n, params: last * n + n, out: [n], classifier: true });
  return layers;
}

/** Totals for the extractor and with the classifier. */
export function modelCost(spec: ResNetSpec): ModelCost {
  const layers = layerCosts(spec);
  let macs = 0;
  let params = 0;
  let macsC = 0;
  let paramsC = 0;
  for (const l of layers) {
    macsC += l.macs;
    paramsC += l.params;
    if (!l.classifier) {
      macs += l.macs;
      params += l.params;
    }
  }
  return { layers, macs, params, macsWithClassifier: macsC, paramsWithClassifier: paramsC };
}

/** "1.81 GMACs", "312.4 MMACs": for tables and the UI. */
export function formatMacs(macs: number): string {
  if (macs >= 1e9) return `${(macs / 1e9).toFixed(2)} GMACs`;
  if (macs >= 1e6) return `${(macs / 1e6).toFixed(1)} MMACs`;
  if (macs >= 1e3) return `${(macs / 1e3).toFixed(1)} KMACs`;
  return `${macs} MACs`;
}

/** "11.69 M params". */
export function formatParams(params: number): string {
  if (params >= 1e6) return `${(params / 1e6).toFixed(2)} M`;
  if (params >= 1e3) return `${(params / 1e3).toFixed(1)} K`;
  return `${params}`;
}
