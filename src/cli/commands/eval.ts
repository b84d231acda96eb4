/** `lab eval`: score a model folder on a dataset under the Market-1501 protocol. */
import { loadCliModel } from '../model';
import * as tf from '@tensorflow/tfjs';
import { evaluateKind, QUICK_IDENTITIES } from '../../engine/eval/quick';
import type { DistanceMetric } from '../../engine/eval/distance';
import { modelCost, formatMacs, formatParams } from '../../engine/cost/macs';
import { resolveDataset } from '../data';
import { ProgressBar } from '../progress';
import { bool, num, oneOf, str, type Flags } from '../args';

export async function evalCommand(flags: Flags): Promise<void> {
  const dir = str(flags, 'model');
  const { model } = await loadCliModel(flags);
  try {
    const { dataset } = await resolveDataset(flags, model.spec.input, { domain: 'target', splits: ['query', 'gallery'] });
    const json = bool(flags, 'json');
    const kind = bool(flags, 'quick') ? 'quick' : 'full';
    const identities = num(flags, 'quick-ids', QUICK_IDENTITIES, { min: 2, integer: true });
    let queries = dataset.query.count;
    const bar = json ? undefined : new ProgressBar(`eval ${dataset.name}${kind === 'quick' ? ' (quick)' : ''}`, queries + dataset.gallery.count);
    const r = await evaluateKind(model, dataset, {
      kind,
      identities,
      flip: bool(flags, 'flip'),
      metric: oneOf<DistanceMetric>(flags, 'metric', ['euclidean', 'cosine'], 'euclidean'),
      normalize: bool(flags, 'normalize'),
      onProgress: (p) => {
        if (p.phase === 'query' && bar && p.total !== queries) {
          queries = p.total; // a quick evaluation scores fewer queries
          bar.total = queries + dataset.gallery.count;
        }
        if (p.phase === 'query') bar?.update(p.done);
        else if (p.phase === 'gallery') bar?.update(queries + p.done);
      },
    });
    bar?.finish();
    const cost = modelCost(model.spec);
    if (json) {
      const { cmc, ...rest } = r;
      process.stdout.write(JSON.stringify({ model: dir, dataset: dataset.name, evaluation: kind, ...rest, cmcTop20: cmc.slice(0, 20), macs: cost.macs, params: cost.params, backend: tf.getBackend() }, null, 2) + '\n');
    } else {
      const pct = (x: number) => `${(100 * x).toFixed(2)}%`;
      const ci = (iv: [number, number]) => `  (95% interval ${(100 * iv[0]).toFixed(1)}-${(100 * iv[1]).toFixed(1)}, bootstrap over ${r.interval.identities} query identities)`;
      process.stdout.write(
        [
          `model    ${dir} (ResNet-${model.spec.depth}, ${formatMacs(cost.macs)}, ${formatParams(cost.params)} params)`,
          `dataset  ${dataset.name}: ${r.numValidQueries}/${r.numQueries} queries scored, ${r.numGallery} gallery images`,
          `eval     ${kind === 'quick' ? `quick: the queries of ${r.testIdentities} of ${r.ofTestIdentities} test identities (seeded), whole gallery` : 'full'}`,
          `mAP      ${pct(r.mAP)}${ci(r.interval.mAP)}`,
          `rank-1   ${pct(r.rank1)}   rank-5 ${pct(r.rank5)}   rank-10 ${pct(r.rank10)}${ci(r.interval.rank1)}`,
          `mINP     ${pct(r.mINP)}`,
          `time     extract ${(r.timingsMs.extract / 1000).toFixed(1)}s, distance ${(r.timingsMs.distance / 1000).toFixed(2)}s, ranking ${(r.timingsMs.ranking / 1000).toFixed(2)}s (${tf.getBackend()})`,
        ].join('\n') + '\n',
      );
    }
  } finally {
    model.dispose();
  }
}
