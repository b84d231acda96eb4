/**
 * The lab worker's PTL and sensitivity plumbing in Node (wasm), on a tiny ResNet-18 and a small
 * synthetic dataset: what the current model is after a PTL fine-tune (backbone + branch, which
 * evaluation runs; the branch's cost from the engine's ptlCost; continued, restarted or dropped
 * as documented in session.ts/ptl.ts; no tensor left after reset), and the sensitivity job's
 * plan, query subset, result shape and cancel.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/engine/backend/init';
import { buildSpec } from '../../src/engine/model/spec';
import { ReidModel } from '../../src/engine/model/model';
import { modelCost } from '../../src/engine/cost/macs';
import { ptlCost } from '../../src/engine/ptl/ptl-cost';
import { DEFAULT_PTL_CONFIG } from '../../src/engine/ptl/side-branch';
import { normalizeImages } from '../../src/engine/data/preprocess';
import type { ReidDataset } from '../../src/engine/data/types';
import { isLabError } from '../../src/engine/errors';
import { LabSession } from '../../src/workers/session';
import { Job } from '../../src/workers/jobs';
import { ptlConfigFor, ptlCostPreview, sameBranchShape } from '../../src/workers/ptl';
import { groupLabel, planSensitivity, querySubset, runSensitivity } from '../../src/workers/sensitivity';
import { syntheticSplit } from './train-fixtures';

const H = 64;
const W = 32;
const spec = buildSpec({ depth: 18, widthMultiplier: 0.125, inputHeight: H, inputWidth: W });

beforeAll(async () => {
  await initBackend('wasm');
});

/** Training identities 1..8, test identities 100..105 (query 2 and gallery 4 images each). */
function dataset(): ReidDataset {
  return {
    name: 'tiny-synthetic',
    train: syntheticSplit({ ids: 8, perId: 4, height: H, width: W, seed: 2, firstPid: 1 }),
    query: syntheticSplit({ ids: 6, perId: 2, height: H, width: W, seed: 3, firstPid: 100 }),
    gallery: syntheticSplit({ ids: 6, perId: 4, height: H, width: W, seed: 3, firstPid: 100 }),
  };
}

function session(): LabSession {
  const s = new LabSession(() => 'wasm');
  s.setDense({ model: ReidModel.init(spec, 1), name: 'tiny', source: 'random' });
  const d = dataset();
  s.dataset = d;
  s.fineTuneSplit = { split: d.train, summary: { identities: 8, images: d.train.count, ofIdentities: 8, disjointFromEvaluation: true } };
  return s;
}

async function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): Promise<number> {
  const [av, bv] = (await Promise.all([a.data(), b.data()])) as Float32Array[];
  let m = 0;
  av.forEach((v, j) => (m = Math.max(m, Math.abs(v - bv[j]))));
  return m;
}

describe('PTL in the lab session', () => {
  it('the page knobs override the engine defaults, and a bad knob is a LabError', () => {
    expect(ptlConfigFor({}, 7)).toEqual({ ...DEFAULT_PTL_CONFIG, seed: 7 });
    expect(ptlConfigFor({ cellRatio: 0.5, fuseInto: 'every' }, 1)).toMatchObject({ cellRatio: 0.5, fuseInto: 'every', kernel: DEFAULT_PTL_CONFIG.kernel });
    for (const bad of [{ cellRatio: 0 }, { cellRatio: Number.NaN }, { fuseInto: 'first' as 'last' }]) {
      expect(() => ptlConfigFor(bad, 1)).toThrow(expect.objectContaining({ code: 'bad-argument' }));
    }
    expect(sameBranchShape(ptlConfigFor({}, 1), ptlConfigFor({}, 2))).toBe(true);
    expect(sameBranchShape(ptlConfigFor({}, 1), ptlConfigFor({ cellRatio: 0.5 }, 1))).toBe(false);
    // The preview counts what a trained branch of the same settings will report.
    const wide = ptlCost(spec, { cellRatio: 0.5 });
    expect(ptlCostPreview(spec, { cellRatio: 0.5 })).toMatchObject({ branchMacs: wide.macs, branchParams: wide.params, backboneMacs: modelCost(spec).macs, cellRatio: 0.5 });
    expect(ptlCostPreview(spec, {}).branchMacs).toBeLessThan(wide.macs);
  });

  it('fine-tunes backbone + branch, evaluates with the branch, continues/restarts/drops it, frees it on reset', async () => {
    const s = session();
    const base = tf.memory().numTensors;
    const job = () => new Job('t', 'Fine-tuning');

    const out = await s.fineTune({ steps: 2, lr: 1e-3, seed: 1, ptl: {} }, job());
    const want = ptlCost(spec);
    expect(out.ptl).toBeDefined();
    expect(out.state.lineage.ptl).toEqual(out.ptl);
    expect(out.ptl!.branchMacs).toBe(want.macs);
    expect(out.ptl!.branchParams).toBe(want.params);
    expect(out.ptl!.backboneMacs).toBe(modelCost(spec).macs);
    expect(out.ptl!.steps).toBe(2);
    // The summary (architecture strip) stays the backbone's.
    expect(out.state.summary.macs).toBe(modelCost(spec).macs);

    // Evaluation runs the branch: its gates opened in training, so the embedding differs from the backbone's alone.
    const x = normalizeImages(dataset().query.images.subarray(0, 2 * H * W * 3), 2, H, W);
    const withBranch = s.embedder().embed(x);
    const backbone = s.requireModel().embed(x);
    expect(s.embedder()).not.toBe(s.requireModel());
    expect(await maxAbsDiff(withBranch, backbone)).toBeGreaterThan(1e-6);
    tf.dispose([x, withBranch, backbone]);
    const afterFirst = tf.memory().numTensors;

    // PTL again with the same shape continues the branch: its steps add up, no tensor is added.
    const again = await s.fineTune({ steps: 2, lr: 1e-3, seed: 1, ptl: {} }, job());
    expect(again.ptl!.steps).toBe(4);
    expect(again.state.lineage.fineTuneSteps).toBe(4);
    expect(tf.memory().numTensors).toBe(afterFirst);

    // Another shape starts a fresh branch.
    const wider = await s.fineTune({ steps: 1, lr: 1e-3, seed: 1, ptl: { cellRatio: 0.5 } }, job());
    expect(wider.ptl).toMatchObject({ steps: 1, cellRatio: 0.5, branchMacs: ptlCost(spec, { cellRatio: 0.5 }).macs });

    // A bad knob changes nothing.
    const stateId = s.modelState!.stateId;
    await expect(s.fineTune({ steps: 1, lr: 1e-3, seed: 1, ptl: { cellRatio: -1 } }, job())).rejects.toSatisfy(isLabError);
    expect(s.modelState!.stateId).toBe(stateId);
    expect(s.modelState!.lineage.ptl?.cellRatio).toBe(0.5);

    // Plain fine-tuning drops the branch: the model is a plain backbone again.
    const plain = await s.fineTune({ steps: 1, lr: 1e-3, seed: 1 }, job());
    expect(plain.ptl).toBeUndefined();
    expect(plain.state.lineage.ptl).toBeUndefined();
    expect(s.embedder()).toBe(s.requireModel());

    s.reset();
    expect(tf.memory().numTensors).toBe(base);
  });
});

describe('sensitivity job', () => {
  it('names groups from the field', () => {
    expect(groupLabel('layer3.2.conv1')).toBe('layer3.2 conv1');
    expect(groupLabel('trunk4')).toBe('layer4 trunk');
    expect(groupLabel('stem')).toBe('stem');
  });

  it('takes a seeded subset of the queries, in dataset order; 0 or more than there are: all', () => {
    const q = dataset().query;
    expect(querySubset(q, 0, 1)).toBe(q);
    expect(querySubset(q, q.count, 1)).toBe(q);
    const a = querySubset(q, 5, 1);
    expect(a.count).toBe(5);
    expect(querySubset(q, 5, 1).pids).toEqual(a.pids);
    // Every chosen image is one of the query's, with its identity and camera.
    const n = H * W * 3;
    for (let i = 0; i < a.count; i++) {
      const img = a.images.subarray(i * n, (i + 1) * n);
      const j = [...Array(q.count).keys()].find((k) => q.images.subarray(k * n, (k + 1) * n).every((v, t) => v === img[t]));
      expect(j).toBeDefined();
      expect(q.pids[j!]).toBe(a.pids[i]);
      expect(q.camids[j!]).toBe(a.camids[i]);
    }
  });

  it('plans 1 + groups x rates evaluations (ResNet-18: 8 inner groups, 4 trunks) and refuses bad rates', () => {
    const m = ReidModel.init(spec, 1);
    const d = dataset();
    try {
      const req = { criterion: 'l1', scope: 'inner' as const, rates: [0.25, 0.5], maxQueries: 4, seed: 1 };
      expect(planSensitivity(m, d, req)).toEqual({ groups: 8, rates: 2, evaluations: 17, queries: 4, gallery: d.gallery.count });
      expect(planSensitivity(m, d, { ...req, scope: 'inner+trunk', maxQueries: 0 })).toMatchObject({ groups: 12, evaluations: 25, queries: d.query.count });
      for (const rates of [[], [0.5, 0.5], [0], [1], [Number.NaN]]) {
        expect(() => planSensitivity(m, d, { ...req, rates })).toThrow(expect.objectContaining({ code: 'bad-argument' }));
      }
      expect(() => planSensitivity(m, d, { ...req, maxQueries: -1 })).toThrow(expect.objectContaining({ code: 'bad-argument' }));
      // An identity subset shrinks query and gallery alike (3 of 6 test identities: 3 x 2 queries, 3 x 4 gallery images).
      expect(planSensitivity(m, d, { ...req, maxQueries: 0, maxIdentities: 3 })).toMatchObject({ queries: 6, gallery: 12 });
      expect(planSensitivity(m, d, { ...req, maxQueries: 4, maxIdentities: 3 })).toMatchObject({ queries: 4, gallery: 12 });
      expect(() => planSensitivity(m, d, { ...req, maxIdentities: 1 })).toThrow(expect.objectContaining({ code: 'bad-argument' }));
    } finally {
      m.dispose();
    }
  });

  it('scans groups x rates in [0, 1] on the query subset, and a cancel between cells frees everything', async () => {
    const m = ReidModel.init(spec, 1);
    const d = dataset();
    const base = tf.memory().numTensors;
    const req = { criterion: 'l1', scope: 'inner' as const, rates: [0.5], maxQueries: 6, seed: 1 };
    const r = await runSensitivity({ model: m, name: 'tiny' }, d, d.train, req, new Job('s', 'Sensitivity scan'));
    expect(r.groups.map((g) => g.label)).toContain('layer1.0 conv1');
    expect(r.mAP.length).toBe(8);
    for (const row of [...r.mAP, ...r.rank1]) {
      expect(row.length).toBe(1);
      for (const v of row) expect(v >= 0 && v <= 1).toBe(true);
    }
    expect(r.kept.flat().every((k, i) => k === r.groups[i].channels - Math.round(0.5 * r.groups[i].channels))).toBe(true);
    expect(r.queries).toBe(6);
    expect(r.evaluations).toBe(9);
    expect(tf.memory().numTensors).toBe(base);

    // A cancel requested while evaluating arrives at the next cell (the job yields there).
    const job = new Job('c', 'Sensitivity scan');
    setTimeout(() => job.controller.abort(), 0);
    await expect(runSensitivity({ model: m, name: 'tiny' }, d, d.train, { ...req, rates: [0.25, 0.5, 0.75] }, job)).rejects.toMatchObject({ code: 'cancelled' });
    expect(tf.memory().numTensors).toBe(base);
    m.dispose();
  });
});
