/**
 * Cost of PTL's side branch, counted separately from the backbone (cost/macs.ts) so the lab can
 * show "backbone + branch" honestly: the branch stays in the deployed model (evaluation runs it).
 *
 * Same counting rules as cost/macs.ts: convs count outH * outW * outC * inC * kh * kw MACs and
 * their weights as parameters; BatchNorm counts 2 parameters per channel and no MACs; the join
 * gates count one parameter per channel and, like the other elementwise ops (the cell's sigmoid,
 * tanh and products, ReLU, the adds), no MACs. Running statistics are buffers, not parameters.
 */
import type { ResNetSpec } from '../model/spec';
import type { LayerCost } from '../cost/macs';
import { modelCost } from '../cost/macs';
import { ptlLayout, ptlNames, resolvePtlConfig, type PtlConfigInput } from './side-branch';

export interface PtlCost {
  /** The branch's layers (kind 'conv' for cells and fusions, 'bn' for fusion BNs and gates). */
  layers: LayerCost[];
  /** The branch alone. */
  macs: number;
  params: number;
  /** The backbone's extractor cost (modelCost), for the "+x%" the UI shows. */
  backbone: { macs: number; params: number };
}

export function ptlCost(spec: ResNetSpec, input: PtlConfigInput = {}): PtlCost {
  const cfg = resolvePtlConfig(input);
  const layers: LayerCost[] = [];
  for (const L of ptlLayout(spec, cfg)) {
    const [h, w] = L.size;
    const k = cfg.kernel;
    const cellOut = 4 * L.cellC;
    layers.push({ name: ptlNames.cell(L.stage).replace(/\.weight$/, ''), kind: 'conv', macs: h * w * cellOut * L.cellInC * k * k, params: cellOut * L.cellInC * k * k, out: [h, w, cellOut], classifier: false });
    const fuseIn = L.outC + L.cellC;
    layers.push({ name: ptlNames.fuseConv(L.stage).replace(/\.weight$/, ''), kind: 'conv', macs: h * w * L.outC * fuseIn, params: L.outC * fuseIn, out: [h, w, L.outC], classifier: false });
    layers.push({ name: ptlNames.fuseBn(L.stage), kind: 'bn', macs: 0, params: 2 * L.outC, out: [h, w, L.outC], classifier: false });
    if (L.joins) layers.push({ name: ptlNames.gate(L.stage), kind: 'bn', macs: 0, params: L.outC, out: [h, w, L.outC], classifier: false });
  }
  const backbone = modelCost(spec);
  return {
    layers,
    macs: layers.reduce((a, l) => a + l.macs, 0),
    params: layers.reduce((a, l) => a + l.params, 0),
    backbone: { macs: backbone.macs, params: backbone.params },
  };
}
