/** `lab eval`: score a model folder on a dataset under the Market-1501 protocol. */
import { loadCliModel } from '../model';
import * as tf from '@tensorflow/tfjs';
import { evaluateModel } from '../../engine/eval/evaluate';
import type { DistanceMetric } from '../../engine/eval/distance';
import { modelCost, formatMacs, formatParams } from '../../engine/cost/macs';
import { resolveDataset } from '../data';
import { ProgressBar } from '../progress';
import { bool, oneOf, str, type Flags } from '../args';

export async function evalCommand(flags: Flags): Promise<void> {
  const dir = str(flags, 'model');
  const { model } = await loadCliModel(flags);
  try {
    const { dataset } = await resolveDataset(flags, model.spec.input, { domain: 'target', splits: ['query', 'gallery'] });
    const json = bool(flags, 'json');
    const total = dataset.query.count + dataset.gallery.count;
    const bar = json ? undefined : new ProgressBar(`eval ${dataset.name}`, total);
    const r = await evaluateModel(model, dataset, {
      flip: bool(flags, 'flip'),
      metric: oneOf<DistanceMetric>(flags, 'metric', ['euclidean', 'cosine'], 'euclidean'),
      normalize: bool(flags, 'normalize'),
      onProgress: (p) => {
        if (p.phase === 'query') bar?.update(p.done);
        else if (p.phase === 'gallery') bar?.update(dataset.query.count + p.done);
      },
    });
    bar?.finish();
    const cost = modelCost(model.spec);
    if (json) {
      const { cmc, ...rest } = r;
      process.stdout.write(JSON.stringify({ model: dir, dataset: dataset.name, ...rest, cmcTop20: cmc.slice(0, 20), macs: cost.macs, params: cost.params, backend: tf.getBackend() }, null, 2) + '\n');
    } else {
      const pct = (x: number) => `${(100 * x).toFixed(2)}%`;
      process.stdout.write(
        [
          `model    ${dir} (ResNet-${model.spec.depth}, ${formatMacs(cost.macs)}, ${formatParams(cost.params)} params)`,
          `dataset  ${dataset.name}: ${r.numValidQueries}/${r.numQueries} queries scored, ${r.numGallery} gallery images`,
          `mAP      ${pct(r.mAP)}`,
          `rank-1   ${pct(r.rank1)}   rank-5 ${pct(r.rank5)}   rank-10 ${pct(r.rank10)}`,
          `mINP     ${pct(r.mINP)}`,
          `time     extract ${(r.timingsMs.extract / 1000).toFixed(1)}s, distance ${(r.timingsMs.distance / 1000).toFixed(2)}s, ranking ${(r.timingsMs.ranking / 1000).toFixed(2)}s (${tf.getBackend()})`,
        ].join('\n') + '\n',
      );
    }
  } finally {
    model.dispose();
  }
}
