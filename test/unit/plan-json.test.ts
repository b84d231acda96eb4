/**
 * Pruning plans as JSON: round trip, applying a parsed plan to a fresh copy of the same
 * architecture, and the errors for wrong architectures, edited files and bad indices.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/engine/backend/init';
import { isLabError, type LabError } from '../../src/engine/errors';
import { buildSpec } from '../../src/engine/model/spec';
import { ReidModel } from '../../src/engine/model/model';
import { initParamArrays } from '../../src/engine/model/init';
import { applyPlan, planPrune, type PrunePlan } from '../../src/engine/prune/plan';
import { getCriterion } from '../../src/engine/prune/criteria';
import { parsePlan, PLAN_JSON_FORMAT, serialisePlan, specFingerprint, type PlanJson } from '../../src/engine/prune/plan-json';

beforeAll(async () => {
  await initBackend('wasm');
});

const spec50 = buildSpec({ depth: 50, widthMultiplier: 0.125, inputHeight: 64, inputWidth: 32 });

async function makePlan(): Promise<{ model: ReidModel; plan: PrunePlan }> {
  const model = ReidModel.init(spec50, 11);
  const plan = await planPrune(model, getCriterion('l1'), { criterion: 'l1', macsTarget: 0.6, scope: 'inner+trunk', ranking: 'global', seed: 3 });
  return { model, plan };
}

function err(f: () => unknown): LabError {
  try {
    f();
  } catch (e) {
    if (isLabError(e)) return e;
    throw e;
  }
  throw new Error('expected a LabError');
}

describe('pruning plan JSON', () => {
  it('round-trips: the parsed plan equals the original (keep-sets, settings, spec, costs)', async () => {
    const { model, plan } = await makePlan();
    model.dispose();
    const text = serialisePlan(plan);
    const obj = JSON.parse(text) as PlanJson;
    expect(obj.format).toBe(PLAN_JSON_FORMAT);
    expect(obj.architecture.fingerprint).toBe(specFingerprint(spec50));
    // Something was actually cut, in several groups, including a trunk.
    expect(obj.groups.some((g) => g.kind === 'trunk' && g.keep.length < g.channels)).toBe(true);
    const back = parsePlan(text, spec50);
    expect(back).toEqual(plan);
    // Serialising again gives the same text.
    expect(serialisePlan(back)).toBe(text);
  });

  it('applied to a fresh copy of the same architecture, gives the same pruned model', async () => {
    const { model, plan } = await makePlan();
    const direct = await applyPlan(model, plan);
    // "Elsewhere": a new model built from the same weights, the plan read back from text.
    const elsewhere = ReidModel.fromArrays(spec50, initParamArrays(spec50, 11));
    const before = tf.memory().numTensors;
    const viaJson = await applyPlan(elsewhere, parsePlan(serialisePlan(plan), elsewhere.spec));
    expect(viaJson.spec).toEqual(direct.spec);
    const [a, b] = [await direct.toArrays(), await viaJson.toArrays()];
    expect([...b.keys()]).toEqual([...a.keys()]);
    for (const [k, v] of a) expect(Buffer.compare(Buffer.from(v.buffer), Buffer.from(b.get(k)!.buffer)), k).toBe(0);
    // A model with other weights but the same architecture accepts the plan too (same channels cut).
    const other = ReidModel.init(spec50, 99);
    const otherPruned = await applyPlan(other, parsePlan(serialisePlan(plan)));
    expect(otherPruned.spec).toEqual(direct.spec);
    viaJson.dispose();
    otherPruned.dispose();
    other.dispose();
    expect(tf.memory().numTensors).toBe(before);
    for (const m of [model, direct, elsewhere]) m.dispose();
  });

  it('refuses a plan for another architecture, naming the difference', async () => {
    const { model, plan } = await makePlan();
    model.dispose();
    const text = serialisePlan(plan);
    const r18 = buildSpec({ depth: 18, widthMultiplier: 0.125, inputHeight: 64, inputWidth: 32 });
    expect(err(() => parsePlan(text, r18)).message).toMatch(/different architecture: the plan is for a ResNet-50, the model is a ResNet-18/);
    const wider = buildSpec({ depth: 50, widthMultiplier: 0.25, inputHeight: 64, inputWidth: 32 });
    expect(err(() => parsePlan(text, wider)).message).toMatch(/stem has 8 channels in the plan's model and 16 in this one/);
    // A once-pruned model is a different architecture too.
    const prunedOnce = plan.spec.stages.map((s) => s.map((b) => ({ ...b })));
    prunedOnce[1][2].mid = [prunedOnce[1][2].mid[0] - 1, prunedOnce[1][2].mid[1]];
    expect(err(() => parsePlan(text, { ...plan.spec, stages: prunedOnce })).message).toMatch(/layer2\.2 has inner channels \[\d+, \d+\] in the plan's model/);
  });

  it('refuses out-of-range, repeated and unordered indices, unknown groups, edited specs and non-plans', async () => {
    const { model, plan } = await makePlan();
    model.dispose();
    const base = JSON.parse(serialisePlan(plan)) as PlanJson;
    const edit = (f: (o: PlanJson) => void) => {
      const o = structuredClone(base);
      f(o);
      return JSON.stringify(o);
    };
    const g = base.groups.findIndex((x) => x.id === 'layer1.0.conv1');
    const n = base.groups[g].channels;

    let e = err(() => parsePlan(edit((o) => o.groups[g].keep.push(n))));
    expect(e.code).toBe('bad-keep-set');
    expect(e.message).toBe(`Group "layer1.0.conv1" has ${n} channels (indices 0 to ${n - 1}), but its keep-set lists ${n}.`);
    e = err(() => parsePlan(edit((o) => (o.groups[g].keep = [0, 0]))));
    expect(e.message).toMatch(/lists channel 0 twice/);
    e = err(() => parsePlan(edit((o) => (o.groups[g].keep = [1, 0]))));
    expect(e.message).toMatch(/increasing order/);
    e = err(() => parsePlan(edit((o) => (o.groups[g].keep = []))));
    expect(e.message).toMatch(/empty/);
    e = err(() => parsePlan(edit((o) => (o.groups[g].id = 'layer9.0.conv1'))));
    expect(e.code).toBe('bad-argument');
    expect(e.message).toMatch(/names group "layer9\.0\.conv1", which a ResNet-50/);
    e = err(() => parsePlan(edit((o) => (o.groups[g].channels = n + 1))));
    expect(e.message).toMatch(new RegExp(`says group "layer1.0.conv1" has ${n + 1} channels; in its architecture it has ${n}`));
    e = err(() => parsePlan(edit((o) => (o.architecture.spec.stemC += 1))));
    expect(e.message).toMatch(/not a valid ResNet spec|fingerprint/);
    e = err(() => parsePlan(edit((o) => (o.architecture.spec.input.height = 128))));
    expect(e.message).toMatch(/fingerprint .* does not match its spec/);
    e = err(() => parsePlan(edit((o) => ((o.settings as { floor: number }).floor = 0))));
    expect(e.message).toMatch(/floor/);
    expect(err(() => parsePlan('{"format": "something-else"}')).message).toMatch(/not a pruning plan of the lab/);
    expect(err(() => parsePlan('{ not json')).message).toMatch(/not valid JSON/);
  });
});
