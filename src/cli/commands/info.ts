/** `lab info`: a model's architecture (per-layer channel counts) and cost. */
import { loadCliModel } from '../model';
import { modelCost, formatMacs, formatParams } from '../../engine/cost/macs';
import { bool, type Flags } from '../args';

export async function infoCommand(flags: Flags): Promise<void> {
  const { model } = await loadCliModel(flags);
  try {
    const spec = model.spec;
    const cost = modelCost(spec);
    if (bool(flags, 'json')) {
      process.stdout.write(JSON.stringify({ spec, cost }, null, 2) + '\n');
      return;
    }
    const lines = [
      `ResNet-${spec.depth} (${spec.block} blocks), width x${spec.widthMultiplier}, input ${spec.input.height}x${spec.input.width}, last stride ${spec.lastStride}, BNNeck ${spec.head.bnneck ? 'yes' : 'no'}, ID classes ${spec.head.numClasses}`,
      `cost     ${formatMacs(cost.macs)} (${cost.macs} MACs), ${formatParams(cost.params)} params (${cost.params}; classifier excluded)`,
      `stem     ${spec.stemC} channels`,
      ...spec.stages.map((stage, s) => `layer${s + 1}   ${stage.map((b) => `[${b.mid.join('-')}]->${b.outC}`).join('  ')}`),
    ];
    if (bool(flags, 'layers')) {
      lines.push('', 'layer'.padEnd(28) + 'MACs'.padStart(14) + 'params'.padStart(12) + '  output');
      for (const l of cost.layers) lines.push(l.name.padEnd(28) + String(l.macs).padStart(14) + String(l.params).padStart(12) + `  ${l.out.join('x')}`);
    }
    process.stdout.write(lines.join('\n') + '\n');
  } finally {
    model.dispose();
  }
}
