/**
 * The model's architecture as the UI draws it: every conv layer in forward order with its
 * output channel count, the count of the unpruned model of the same family, and the channel
 * dependency group it belongs to. Pure data, no tensors.
 */
import { buildSpec, embeddingDim, type ResNetSpec } from '../engine/model/spec';
import { blockPrefix, innerGroupId, stemGroupId, trunkGroupId } from '../engine/model/names';
import { modelCost } from '../engine/cost/macs';
import type { LayerChannels, ModelSummary } from './api';

type ConvLayer = Omit<LayerChannels, 'original' | 'macs'>;

function convLayers(spec: ResNetSpec): ConvLayer[] {
  const stemGroup = stemGroupId(spec);
  const out: ConvLayer[] = [
    { name: 'conv1', stage: 0, group: stemGroup, kind: stemGroup === 'stem' ? 'stem' : 'trunk', channels: spec.stemC },
  ];
  spec.stages.forEach((stage, s) => {
    const trunk = trunkGroupId(s);
    stage.forEach((b, i) => {
      const p = blockPrefix(s, i);
      b.mid.forEach((m, k) => out.push({ name: `${p}.conv${k + 1}`, stage: s + 1, group: innerGroupId(s, i, k + 1), kind: 'inner', channels: m }));
      out.push({ name: `${p}.conv${b.mid.length + 1}`, stage: s + 1, group: trunk, kind: 'trunk', channels: b.outC });
      if (b.downsample) out.push({ name: `${p}.downsample.0`, stage: s + 1, group: trunk, kind: 'trunk', channels: b.outC });
    });
  });
  return out;
}

/** Per-layer channels and MACs, with the unpruned family's counts for comparison. */
export function layerChannels(spec: ResNetSpec): LayerChannels[] {
  const now = convLayers(spec);
  const macs = new Map(modelCost(spec).layers.map((l) => [l.name, l.macs]));
  const full = convLayers(
    buildSpec({
      depth: spec.depth,
      widthMultiplier: spec.widthMultiplier,
      lastStride: spec.lastStride,
      inputHeight: spec.input.height,
      inputWidth: spec.input.width,
      bnneck: spec.head.bnneck,
      numClasses: spec.head.numClasses,
    }),
  );
  // A spec that is not a pruned torchvision layout (e.g. a custom stage length) compares to itself.
  const comparable = full.length === now.length && full.every((l, i) => l.name === now[i].name);
  return now.map((l, i) => ({
    ...l,
    original: comparable ? Math.max(full[i].channels, l.channels) : l.channels,
    macs: macs.get(l.name) ?? 0,
  }));
}

export function summarizeSpec(spec: ResNetSpec, name: string, source: ModelSummary['source']): ModelSummary {
  const cost = modelCost(spec);
  return {
    name,
    source,
    depth: spec.depth,
    widthMultiplier: spec.widthMultiplier,
    input: { ...spec.input },
    embeddingDim: embeddingDim(spec),
    layers: layerChannels(spec),
    params: cost.params,
    macs: cost.macs,
  };
}
