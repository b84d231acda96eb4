/**
 * The saved current model's record (src/workers/saved-model.ts): bit-exact round trip of a pruned
 * model's weights, damaged records refused (never half-loaded), the dense-model match and its
 * reasons, the hash against hand-computed FNV-1a vectors, and the storage failure sentences.
 * IndexedDB itself is exercised in the browser (test/e2e/persistence.test.ts).
 */
import { describe, expect, it } from 'vitest';
import { isLabError } from '../../src/engine/errors';
import { buildSpec, cloneSpec, type ResNetSpec } from '../../src/engine/model/spec';
import { initParamArrays } from '../../src/engine/model/init';
import { listParams } from '../../src/engine/model/names';
import {
  SAVED_FORMAT,
  canonicalJson,
  decodeWeights,
  denseIdentity,
  describeLineage,
  encodeSaved,
  encodeWeights,
  hashArrays,
  matchSaved,
  storageFailureMessage,
  whatIsSaved,
  type DenseIdentity,
} from '../../src/workers/saved-model';
import type { Lineage } from '../../src/workers/api';

const denseSpec = buildSpec({ depth: 18, widthMultiplier: 0.125, inputHeight: 64, inputWidth: 32 });

/** The dense spec with layer2.0's inner channels halved, as a prune would leave it. */
function prunedSpec(): ResNetSpec {
  const s = cloneSpec(denseSpec);
  s.stages[1][0].mid[0] = s.stages[1][0].mid[0] / 2;
  return s;
}

const bytesOf = (s: string) => new Float32Array(new TextEncoder().encode(s).buffer);

const lineage: Lineage = {
  base: 'tiny',
  baseSource: 'random',
  prune: {
    criterion: 'l1',
    criterionName: 'L1 norm',
    strategy: 'once',
    target: { kind: 'rate', rate: 0.5 },
    scope: 'inner',
    ranking: 'local',
    rate: 0.5,
    removedFraction: 0.5,
    targetMet: true,
  },
  fineTuneSteps: 4,
};

function identity(over: Partial<DenseIdentity> = {}): DenseIdentity {
  return { ...denseIdentity('tiny', 'random', denseSpec, initParamArrays(denseSpec, 1)), ...over };
}

describe('hash and canonical JSON', () => {
  it('hashArrays is FNV-1a over the bytes in order, across array boundaries', () => {
    // Hand-checked vectors: FNV-1a 32 of "" is 811c9dc5, of "abcdefgh" 76daaa8d.
    expect(hashArrays([])).toBe('811c9dc5');
    expect(hashArrays([bytesOf('abcdefgh')])).toBe('76daaa8d');
    expect(hashArrays([bytesOf('abcd'), bytesOf('efgh')])).toBe('76daaa8d');
    expect(hashArrays([bytesOf('efgh'), bytesOf('abcd')])).not.toBe('76daaa8d');
    // A view with an offset hashes its own bytes only.
    const buf = bytesOf('xxxxabcdefgh');
    expect(hashArrays([new Float32Array(buf.buffer, 4, 2)])).toBe('76daaa8d');
  });

  it('canonicalJson ignores key order and undefined fields, keeps array order', () => {
    expect(canonicalJson({ b: 1, a: [3, { d: 'x', c: null }], u: undefined })).toBe('{"a":[3,{"c":null,"d":"x"}],"b":1}');
    expect(canonicalJson({ a: 1, b: 2 })).toBe(canonicalJson({ b: 2, a: 1 }));
    expect(JSON.parse(canonicalJson(denseSpec))).toEqual(JSON.parse(JSON.stringify(denseSpec)));
  });

  it('denseIdentity does not depend on the map order, and sees a one-ulp change', () => {
    const arrays = initParamArrays(denseSpec, 1);
    const reversed = new Map([...arrays.entries()].reverse());
    const a = denseIdentity('tiny', 'random', denseSpec, arrays);
    expect(denseIdentity('tiny', 'random', denseSpec, reversed)).toEqual(a);
    const changed = new Map([...arrays.entries()].map(([k, v]) => [k, new Float32Array(v)]));
    const w = changed.get('conv1.weight')!;
    const bits = new Uint32Array(w.buffer, w.byteOffset, 1);
    bits[0] += 1;
    expect(denseIdentity('tiny', 'random', denseSpec, changed).weightsHash).not.toBe(a.weightsHash);
    expect(denseIdentity('tiny', 'random', denseSpec, initParamArrays(denseSpec, 2)).weightsHash).not.toBe(a.weightsHash);
  });
});

describe('the saved record', () => {
  it('a pruned model round-trips bit for bit; bytes are 4 per parameter', () => {
    const spec = prunedSpec();
    const arrays = initParamArrays(spec, 7);
    const { meta, weights } = encodeSaved({
      weightsKey: 'k#1',
      stateKey: 'abc.2',
      savedAt: 1,
      dense: identity(),
      lineage,
      current: { spec, arrays },
      currentIsDense: false,
    });
    const params = listParams(spec).reduce((n, p) => n + p.shape.reduce((a, b) => a * b, 1), 0);
    expect(meta.bytes).toBe(4 * params);
    expect(meta.format).toBe(SAVED_FORMAT);
    expect(weights.dense).toBeUndefined();
    // Structured clone is what IndexedDB stores: the record must survive it.
    const stored = structuredClone(weights);
    const back = decodeWeights(stored.current, 'model');
    expect(back.spec.stages[1][0].mid[0]).toBe(denseSpec.stages[1][0].mid[0] / 2);
    expect([...back.arrays.keys()].sort()).toEqual([...arrays.keys()].sort());
    for (const [name, a] of arrays) {
      const b = back.arrays.get(name)!;
      expect(new Uint32Array(b.buffer, b.byteOffset, b.length)).toEqual(new Uint32Array(a.buffer, a.byteOffset, a.length));
    }
  });

  it('an opened (user) dense model travels with the record, once', () => {
    const spec = prunedSpec();
    const cur = initParamArrays(spec, 3);
    const dense = initParamArrays(denseSpec, 4);
    const both = encodeSaved({ weightsKey: 'k', stateKey: 's', savedAt: 0, dense: identity({ source: 'user' }), lineage, current: { spec, arrays: cur }, denseWeights: { spec: denseSpec, arrays: dense }, currentIsDense: false });
    expect(both.meta.bytes).toBe(both.weights.current.weightData.byteLength + both.weights.dense!.weightData.byteLength);
    expect(decodeWeights(both.weights.dense, 'dense model').spec).toEqual(denseSpec);
    const opened = encodeSaved({ weightsKey: 'k', stateKey: 's', savedAt: 0, dense: identity({ source: 'user' }), lineage: { ...lineage, prune: undefined, fineTuneSteps: 0 }, current: { spec: denseSpec, arrays: dense }, denseWeights: { spec: denseSpec, arrays: dense }, currentIsDense: true });
    expect(opened.weights.dense).toBeUndefined();
    expect(whatIsSaved(opened.meta)).toBe('your model');
    expect(whatIsSaved(both.meta)).toBe('the fine-tuned model');
  });

  it('a damaged record is refused with a storage error, never half-loaded', () => {
    const spec = prunedSpec();
    const w = encodeWeights(spec, initParamArrays(spec, 5));
    const refuse = (x: unknown, pattern: RegExp) => {
      let err: unknown;
      try {
        decodeWeights(x as never, 'model');
      } catch (e) {
        err = e;
      }
      expect(isLabError(err, 'storage')).toBe(true);
      expect((err as Error).message).toMatch(pattern);
    };
    // A crash mid-write that somehow left a short buffer: byte counts no longer add up.
    refuse({ ...w, weightData: w.weightData.slice(0, w.weightData.byteLength - 4) }, /damaged/);
    refuse({ ...w, weightData: new ArrayBuffer(0) }, /damaged/);
    refuse(undefined, /incomplete/);
    refuse({ ...w, weightData: null }, /incomplete/);
    // A non-finite value is refused, naming the tensor.
    const nan = w.weightData.slice(0);
    new Float32Array(nan)[10] = NaN;
    refuse({ ...w, weightData: nan }, /damaged.*conv1\.weight/);
    // Weights of another architecture under this spec.
    refuse({ ...w, spec: denseSpec }, /damaged/);
  });
});

describe('matching a saved model with the loaded dense model', () => {
  const meta = (dense: DenseIdentity) =>
    encodeSaved({ weightsKey: 'k', stateKey: 's', savedAt: 0, dense, lineage, current: { spec: denseSpec, arrays: initParamArrays(denseSpec, 1) }, currentIsDense: false }).meta;

  it('restores onto the same dense model only', () => {
    const id = identity();
    expect(matchSaved(meta(id), id)).toEqual({ ok: true, bringsDense: false });
    const other = (over: Partial<DenseIdentity>) => matchSaved(meta(id), { ...id, ...over });
    expect(other({ name: 'resnet50-w0.5', source: 'zoo' })).toEqual({ ok: false, reason: 'it was pruned from tiny (random weights), and the lab now runs resnet50-w0.5 (model zoo)' });
    expect(other({ source: 'zoo' })).toMatchObject({ ok: false });
    expect(other({ spec: canonicalJson(buildSpec({ depth: 18, widthMultiplier: 0.25, inputHeight: 64, inputWidth: 32 })) })).toEqual({
      ok: false,
      reason: 'tiny (random weights) has a different architecture from the one it was pruned from',
    });
    expect(other({ weightsHash: '00000000' })).toEqual({ ok: false, reason: 'the weights of tiny (random weights) changed since it was pruned from them' });
  });

  it('a model the user opened brings its own dense model; unknown records are refused', () => {
    expect(matchSaved(meta(identity({ source: 'user', name: 'mine' })), identity())).toEqual({ ok: true, bringsDense: true });
    for (const bad of [null, 42, {}, { ...meta(identity()), format: 'prunability-lab/saved-state@0' }, { ...meta(identity()), weightsKey: 3 }]) {
      expect(matchSaved(bad, identity())).toEqual({ ok: false, reason: 'it was saved in a format this version of the lab does not read', damaged: true });
    }
  });

  it('a record whose lineage or bookkeeping is damaged is refused as damaged, naming the field', () => {
    const good = meta(identity());
    const cases: [unknown, RegExp][] = [
      [{ ...good, lineage: 7 }, /lineage is not an object/],
      [{ ...good, lineage: { ...lineage, fineTuneSteps: 'four' } }, /fineTuneSteps is four/],
      [{ ...good, lineage: { ...lineage, prune: { ...lineage.prune, removedFraction: '50%' } } }, /removedFraction is 50%/],
      [{ ...good, lineage: { ...lineage, prune: { ...lineage.prune, criterionName: null } } }, /criterionName is not a text/],
      [{ ...good, lineage: { ...lineage, base: undefined } }, /names no base model/],
      [{ ...good, stateKey: 5 }, /stateKey/],
      [{ ...good, bytes: -1 }, /bytes/],
    ];
    for (const [bad, why] of cases) {
      const m = matchSaved(bad, identity());
      expect(m).toMatchObject({ ok: false, damaged: true });
      expect((m as { reason: string }).reason).toMatch(why);
    }
  });

  it('describes the lineage in words', () => {
    expect(describeLineage(lineage)).toBe('tiny, pruned with L1 norm (50% of prunable channels removed, once), fine-tuned 4 steps');
    expect(describeLineage({ base: 'tiny', baseSource: 'random', fineTuneSteps: 0 })).toBe('tiny');
  });
});

describe('storage failures as sentences', () => {
  it('names a full quota, a missing IndexedDB, and anything else with its name and message', () => {
    const quota = storageFailureMessage(new DOMException('The quota has been exceeded.', 'QuotaExceededError'));
    expect(quota).toContain('the browser\u2019s storage for this site is full (QuotaExceededError)');
    expect(quota).toMatch(/export it to keep it/);
    expect(storageFailureMessage(new Error('IndexedDB is not available in this browser context.'))).toContain('this browser offers no IndexedDB here');
    const other = storageFailureMessage(new DOMException('Version change blocked', 'InvalidStateError'));
    expect(other).toContain('(InvalidStateError: Version change blocked)');
    expect(storageFailureMessage('odd')).toContain('(Error: odd)');
    for (const m of [quota, other]) expect(m).not.toMatch(/undefined|\[object Object\]/);
  });
});
