/**
 * A lab session (the worker's state, without the worker) on a tiny model and synthetic data, for
 * tests of what the page's jobs do: 8 training identities x 4 images, 6 test identities.
 */
import type { ReidDataset } from '../../src/engine/data/types';
import type { ReidModel } from '../../src/engine/model/model';
import { LabSession } from '../../src/workers/session';
import { syntheticSplit } from './train-fixtures';

export const H = 64;
export const W = 32;

export function tinySession(model: ReidModel): LabSession {
  const s = new LabSession(() => 'wasm');
  s.setDense({ model, name: 'tiny', source: 'random' });
  const d: ReidDataset = {
    name: 'tiny-synthetic',
    train: syntheticSplit({ ids: 8, perId: 4, height: H, width: W, seed: 2, firstPid: 1 }),
    query: syntheticSplit({ ids: 6, perId: 2, height: H, width: W, seed: 3, firstPid: 100 }),
    gallery: syntheticSplit({ ids: 6, perId: 4, height: H, width: W, seed: 3, firstPid: 100 }),
  };
  s.dataset = d;
  s.fineTuneSplit = { split: d.train, summary: { identities: 8, images: d.train.count, ofIdentities: 8, disjointFromEvaluation: true } };
  return s;
}
