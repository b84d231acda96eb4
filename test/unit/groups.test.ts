import { describe, expect, it } from 'vitest';
import { buildSpec, cloneSpec, type ResNetSpec } from '../../src/engine/model/spec';
import { innerGroupId, listParams, stemGroupId, trunkGroupId } from '../../src/engine/model/names';
import {
  dependencyGroups,
  groupsInScope,
  prunableGroups,
  producerBatchNorms,
  producerConvs,
  protectedGroupIds,
  type DependencyGroup,
} from '../../src/engine/prune/groups';
import { keepAll, keepCounts, keepSetsFromScores, keepTopScores, prunedSpec, validateKeepSets } from '../../src/engine/prune/keep-set';
import { isLabError } from '../../src/engine/errors';

const r18 = () => buildSpec({ depth: 18, widthMultiplier: 0.125, inputHeight: 64, inputWidth: 32, numClasses: 5 });
const r34 = () => buildSpec({ depth: 34, widthMultiplier: 0.125, inputHeight: 64, inputWidth: 32, numClasses: 5 });
const r50 = () => buildSpec({ depth: 50, widthMultiplier: 0.125, inputHeight: 64, inputWidth: 32, numClasses: 5 });

const byId = (spec: ResNetSpec) => new Map(dependencyGroups(spec).map((g) => [g.id, g]));
const memberSet = (g: DependencyGroup) => new Set(g.members.map((m) => `${m.param}@${m.axis}:${m.role}`));

/** Ids forward() looks masks up under, enumerated from the spec independently of groups.ts. */
function forwardMaskIds(spec: ResNetSpec): Set<string> {
  const ids = new Set<string>([stemGroupId(spec)]);
  spec.stages.forEach((stage, s) => {
    ids.add(trunkGroupId(s));
    stage.forEach((b, i) => b.mid.forEach((_, k) => ids.add(innerGroupId(s, i, k + 1))));
  });
  return ids;
}

describe('dependency groups: hand-checked ResNet-18 membership', () => {
  const spec = r18();
  const groups = byId(spec);

  it('trunk1 holds the stem and every conv feeding or reading layer1\'s chain of adds', () => {
    const g = groups.get('trunk1')!;
    expect(g.kind).toBe('trunk');
    expect(g.stageIndex).toBe(0);
    expect(g.channels).toBe(8);
    const expected = [
      'conv1.weight@3:producer',
      'bn1.weight@0:producer',
      'bn1.bias@0:producer',
      'bn1.running_mean@0:producer',
      'bn1.running_var@0:producer',
      'layer1.0.conv1.weight@2:consumer',
      'layer1.0.conv2.weight@3:producer',
      'layer1.0.bn2.weight@0:producer',
      'layer1.0.bn2.bias@0:producer',
      'layer1.0.bn2.running_mean@0:producer',
      'layer1.0.bn2.running_var@0:producer',
      'layer1.1.conv1.weight@2:consumer',
      'layer1.1.conv2.weight@3:producer',
      'layer1.1.bn2.weight@0:producer',
      'layer1.1.bn2.bias@0:producer',
      'layer1.1.bn2.running_mean@0:producer',
      'layer1.1.bn2.running_var@0:producer',
      'layer2.0.conv1.weight@2:consumer',
      'layer2.0.downsample.0.weight@2:consumer',
    ];
    expect(memberSet(g)).toEqual(new Set(expected));
    expect(g.members.length).toBe(expected.length);
    expect(g.maskKeys).toEqual(['trunk1']);
  });

  it('trunk2 starts at layer2.0\'s projection shortcut', () => {
    const g = groups.get('trunk2')!;
    expect(g.channels).toBe(16);
    const s = memberSet(g);
    for (const m of [
      'layer2.0.downsample.0.weight@3:producer',
      'layer2.0.downsample.1.running_var@0:producer',
      'layer2.0.conv2.weight@3:producer',
      'layer2.1.conv1.weight@2:consumer',
      'layer2.1.conv2.weight@3:producer',
      'layer3.0.conv1.weight@2:consumer',
      'layer3.0.downsample.0.weight@2:consumer',
    ]) {
      expect(s.has(m), m).toBe(true);
    }
    expect(s.has('layer2.0.conv1.weight@2:consumer')).toBe(false); // reads trunk1
    expect(producerConvs(g)).toEqual(['layer2.0.downsample.0.weight', 'layer2.0.conv2.weight', 'layer2.1.conv2.weight']);
    expect(producerBatchNorms(g)).toEqual(['layer2.0.downsample.1', 'layer2.0.bn2', 'layer2.1.bn2']);
  });

  it('an inner group is one conv\'s filters, its BN and the next conv\'s input', () => {
    const g = groups.get('layer3.1.conv1')!;
    expect(g.kind).toBe('inner');
    expect(g.stageIndex).toBe(2);
    expect(g.channels).toBe(32);
    expect(memberSet(g)).toEqual(
      new Set([
        'layer3.1.conv1.weight@3:producer',
        'layer3.1.bn1.weight@0:producer',
        'layer3.1.bn1.bias@0:producer',
        'layer3.1.bn1.running_mean@0:producer',
        'layer3.1.bn1.running_var@0:producer',
        'layer3.1.conv2.weight@2:consumer',
      ]),
    );
  });

  it('the last trunk is read by the BNNeck and the classifier\'s input rows', () => {
    const s = memberSet(groups.get('trunk4')!);
    for (const m of ['bnneck.weight@0:consumer', 'bnneck.running_mean@0:consumer', 'classifier.weight@0:consumer']) expect(s.has(m), m).toBe(true);
    expect([...s].some((m) => m.startsWith('classifier.bias'))).toBe(false);
  });

  it('has a stable order: the stem group first, then groups as blocks open them', () => {
    expect(dependencyGroups(spec).map((g) => g.id)).toEqual([
      'trunk1',
      'layer1.0.conv1',
      'layer1.1.conv1',
      'trunk2',
      'layer2.0.conv1',
      'layer2.1.conv1',
      'trunk3',
      'layer3.0.conv1',
      'layer3.1.conv1',
      'trunk4',
      'layer4.0.conv1',
      'layer4.1.conv1',
    ]);
  });
});

describe('dependency groups: ResNet-50', () => {
  const spec = r50();
  const groups = byId(spec);

  it('the stem is its own group because layer1.0 has a projection shortcut', () => {
    const g = groups.get('stem')!;
    expect(g.kind).toBe('stem');
    expect(g.stageIndex).toBe(-1);
    expect(g.channels).toBe(8);
    expect(memberSet(g)).toEqual(
      new Set([
        'conv1.weight@3:producer',
        'bn1.weight@0:producer',
        'bn1.bias@0:producer',
        'bn1.running_mean@0:producer',
        'bn1.running_var@0:producer',
        'layer1.0.conv1.weight@2:consumer',
        'layer1.0.downsample.0.weight@2:consumer',
      ]),
    );
    const t1 = memberSet(groups.get('trunk1')!);
    expect(groups.get('trunk1')!.channels).toBe(32);
    for (const m of ['layer1.0.downsample.0.weight@3:producer', 'layer1.0.conv3.weight@3:producer', 'layer1.2.bn3.bias@0:producer', 'layer2.0.conv1.weight@2:consumer']) {
      expect(t1.has(m), m).toBe(true);
    }
  });

  it('a bottleneck has two inner groups', () => {
    expect(memberSet(groups.get('layer2.3.conv2')!)).toEqual(
      new Set([
        'layer2.3.conv2.weight@3:producer',
        'layer2.3.bn2.weight@0:producer',
        'layer2.3.bn2.bias@0:producer',
        'layer2.3.bn2.running_mean@0:producer',
        'layer2.3.bn2.running_var@0:producer',
        'layer2.3.conv3.weight@2:consumer',
      ]),
    );
    expect(groups.get('layer2.3.conv1')!.members.find((m) => m.role === 'consumer')!.param).toBe('layer2.3.conv2.weight');
  });
});

describe('dependency groups: invariants on every depth', () => {
  for (const [name, make] of [
    ['ResNet-18', r18],
    ['ResNet-34', r34],
    ['ResNet-50', r50],
  ] as const) {
    it(`${name}: every channel axis of every parameter belongs to exactly one group of matching size`, () => {
      const spec = make();
      const groups = dependencyGroups(spec);
      const cover = new Map<string, number>();
      for (const g of groups) {
        for (const m of g.members) {
          const key = `${m.param}@${m.axis}`;
          cover.set(key, (cover.get(key) ?? 0) + 1);
          const info = listParams(spec).find((p) => p.name === m.param);
          expect(info, m.param).toBeDefined();
          expect(info!.shape[m.axis], `${g.id} ${m.param}`).toBe(g.channels);
        }
      }
      // Independently: which axes of which parameters carry pruneable channels.
      const expected: string[] = [];
      for (const p of listParams(spec)) {
        if (p.role === 'conv') {
          if (p.name !== 'conv1.weight') expected.push(`${p.name}@2`); // the stem reads RGB
          expected.push(`${p.name}@3`);
        } else if (p.role === 'linear.weight') expected.push(`${p.name}@0`);
        else if (p.role !== 'linear.bias') expected.push(`${p.name}@0`);
      }
      expect(new Set(cover.keys())).toEqual(new Set(expected));
      for (const [key, n] of cover) expect(n, key).toBe(1);
    });

    it(`${name}: ids are unique and are exactly the ids forward() masks by`, () => {
      const spec = make();
      const groups = dependencyGroups(spec);
      expect(new Set(groups.map((g) => g.id)).size).toBe(groups.length);
      expect(new Set(groups.flatMap((g) => g.maskKeys))).toEqual(forwardMaskIds(spec));
      expect(dependencyGroups(spec).map((g) => g.id)).toEqual(groups.map((g) => g.id));
    });
  }

  it('scopes: inner only, or inner + trunk with the stem counted as trunk', () => {
    // ResNet-18: 8 blocks with one inner group each; 4 trunks (stem inside trunk1).
    expect(groupsInScope(r18(), 'inner').length).toBe(8);
    expect(groupsInScope(r18(), 'inner+trunk').length).toBe(12);
    // ResNet-34: 16 blocks; ResNet-50: 16 bottlenecks with two inner groups, plus stem + 4 trunks.
    expect(groupsInScope(r34(), 'inner').length).toBe(16);
    expect(groupsInScope(r34(), 'inner+trunk').length).toBe(20);
    expect(groupsInScope(r50(), 'inner').length).toBe(32);
    expect(groupsInScope(r50(), 'inner+trunk').length).toBe(37);
    expect(groupsInScope(r50(), 'inner').every((g) => g.kind === 'inner')).toBe(true);
  });

  it('protection: the stem group and the last stage', () => {
    expect(protectedGroupIds(r18(), { stem: true, lastStage: false })).toEqual(new Set(['trunk1']));
    expect(protectedGroupIds(r50(), { stem: true, lastStage: false })).toEqual(new Set(['stem']));
    expect(protectedGroupIds(r18(), { stem: false, lastStage: true })).toEqual(new Set(['trunk4', 'layer4.0.conv1', 'layer4.1.conv1']));
    const p50 = protectedGroupIds(r50(), { stem: true, lastStage: true });
    expect(p50.size).toBe(1 + 1 + 3 * 2);
    const ids = prunableGroups(r50(), 'inner+trunk', { stem: true, lastStage: true }).map((g) => g.id);
    expect(ids.length).toBe(37 - 8);
    expect(ids).not.toContain('stem');
    expect(ids).not.toContain('layer4.2.conv2');
    expect(ids).toContain('trunk3');
    expect(prunableGroups(r50(), 'inner').length).toBe(32);
  });

  it('a stage whose first block has an identity shortcut continues the previous trunk', () => {
    const spec = r18();
    for (const b of spec.stages[3]) {
      b.outC = 32;
      b.inC = 32;
      b.downsample = false;
    }
    const groups = byId(spec);
    expect(groups.has('trunk4')).toBe(false);
    const t3 = groups.get('trunk3')!;
    expect(t3.maskKeys).toEqual(['trunk3', 'trunk4']);
    expect(memberSet(t3).has('layer4.1.conv2.weight@3:producer')).toBe(true);
    expect(memberSet(t3).has('bnneck.weight@0:consumer')).toBe(true);
    expect(protectedGroupIds(spec, { stem: false, lastStage: true })).toContain('trunk3');
  });

  it('rejects a projection shortcut in the middle of a stage with a sentence', () => {
    const spec = r18();
    spec.stages[1][1].downsample = true;
    try {
      dependencyGroups(spec);
      expect.unreachable();
    } catch (e) {
      expect(isLabError(e, 'bad-argument')).toBe(true);
      expect((e as Error).message).toMatch(/layer2\.1/);
    }
  });
});

describe('keep-sets', () => {
  const expectBad = (fn: () => unknown, ...fragments: (string | RegExp)[]) => {
    try {
      fn();
    } catch (e) {
      expect(isLabError(e, 'bad-keep-set'), String(e)).toBe(true);
      for (const f of fragments) expect((e as Error).message).toMatch(f);
      return;
    }
    expect.unreachable('expected a bad-keep-set error');
  };

  it('accepts sorted unique in-range indices, and absent groups', () => {
    const spec = r18();
    expect(() => validateKeepSets(spec, new Map([['layer1.0.conv1', [0, 3, 7]], ['trunk4', [63]]]))).not.toThrow();
    expect(() => validateKeepSets(spec, new Map())).not.toThrow();
    expect(() => validateKeepSets(spec, keepAll(spec))).not.toThrow();
  });

  it('names the group, its size and what was given', () => {
    const spec = r18();
    expectBad(() => validateKeepSets(spec, new Map([['layer9.0.conv1', [0]]])), /"layer9\.0\.conv1"/, /does not have/);
    expectBad(() => validateKeepSets(spec, new Map([['layer1.0.conv1', [0, 8]]])), /"layer1\.0\.conv1"/, /8 channels/, /lists 8/);
    expectBad(() => validateKeepSets(spec, new Map([['layer1.0.conv1', [-1, 2]]])), /8 channels/, /-1/);
    expectBad(() => validateKeepSets(spec, new Map([['layer1.0.conv1', [1.5]]])), /1\.5/);
    expectBad(() => validateKeepSets(spec, new Map([['trunk2', [1, 1, 4]]])), /"trunk2"/, /16 channels/, /twice/);
    expectBad(() => validateKeepSets(spec, new Map([['trunk2', [4, 1]]])), /"trunk2"/, /increasing order/);
    expectBad(() => validateKeepSets(spec, new Map([['trunk3', []]])), /"trunk3"/, /all 32/);
    // "stem" exists only in ResNet-50.
    expectBad(() => validateKeepSets(spec, new Map([['stem', [0]]])), /"stem"/);
    expect(() => validateKeepSets(r50(), new Map([['stem', [0]]]))).not.toThrow();
  });

  it('keepTopScores keeps the highest scores, ties to the lower index, in index order', () => {
    expect(keepTopScores([0.1, 0.9, 0.5, 0.7], 2)).toEqual([1, 3]);
    expect(keepTopScores([1, 2, 2, 2, 0], 2)).toEqual([1, 2]);
    expect(keepTopScores([0, 0, 0, 0], 3)).toEqual([0, 1, 2]);
    expect(keepTopScores(new Float32Array([-1, -3, -2]), 1)).toEqual([0]);
    expect(keepTopScores([Infinity, 5, -Infinity], 3)).toEqual([0, 1, 2]);
    expect(() => keepTopScores([1, 2], 0)).toThrow(/1 to 2/);
    expect(() => keepTopScores([1, 2], 3)).toThrow(/1 to 2/);
    expect(() => keepTopScores([1, NaN], 1)).toThrow(/NaN/);
  });

  it('keepSetsFromScores applies keepTopScores per group and checks sizes', () => {
    const spec = r18();
    const s1 = Float32Array.from({ length: 8 }, (_, i) => (i * 5) % 8); // 0 5 2 7 4 1 6 3
    const keep = keepSetsFromScores(spec, new Map([['layer1.0.conv1', s1]]), new Map([['layer1.0.conv1', 3]]));
    expect(keep).toEqual(new Map([['layer1.0.conv1', [1, 3, 6]]]));
    expect(() => validateKeepSets(spec, keep)).not.toThrow();
    expect(() => keepSetsFromScores(spec, new Map([['trunk1', [1, 2]]]), new Map([['trunk1', 1]]))).toThrow(/8 channels.*found 2/);
    expect(() => keepSetsFromScores(spec, new Map([['trunk1', s1]]), new Map([['trunk1', 0]]))).toThrow(/1 to 8/);
    expectBad(() => keepSetsFromScores(spec, new Map(), new Map([['nope', 1]])), /"nope"/);
  });

  it('keepCounts lists every group, full where absent', () => {
    const spec = r18();
    const counts = keepCounts(spec, new Map([['trunk2', [0, 5, 6]]]));
    expect(counts.size).toBe(12);
    expect(counts.get('trunk2')).toBe(3);
    expect(counts.get('trunk1')).toBe(8);
    expect(counts.get('layer4.1.conv1')).toBe(64);
  });

  it('prunedSpec shrinks exactly the channel counts the groups govern, and is pure', () => {
    const spec = r18();
    const before = cloneSpec(spec);
    const out = prunedSpec(
      spec,
      new Map([
        ['trunk1', 3],
        ['trunk2', 5],
        ['layer3.1.conv1', 7],
      ]),
    );
    expect(spec).toEqual(before);
    expect(out.stemC).toBe(3);
    expect(out.stages[0].map((b) => [b.inC, b.outC])).toEqual([
      [3, 3],
      [3, 3],
    ]);
    expect(out.stages[1].map((b) => [b.inC, b.mid[0], b.outC])).toEqual([
      [3, 16, 5],
      [5, 16, 5],
    ]);
    expect(out.stages[2].map((b) => [b.inC, b.mid[0], b.outC])).toEqual([
      [5, 32, 32],
      [32, 7, 32],
    ]);
    expect(out.stages[1].map((b) => b.downsample)).toEqual([true, false]);
    // ResNet-50: the stem group sets stemC and layer1.0's input only.
    const s50 = prunedSpec(r50(), new Map([['stem', 2], ['layer1.0.conv2', 3]]));
    expect(s50.stemC).toBe(2);
    expect(s50.stages[0][0]).toMatchObject({ inC: 2, mid: [8, 3], outC: 32 });
    expect(s50.stages[0][1].inC).toBe(32);
    expect(() => prunedSpec(spec, new Map([['trunk1', 0]]))).toThrow(/1 to 8/);
    expect(() => prunedSpec(spec, new Map([['trunk1', 9]]))).toThrow(/1 to 8/);
  });
});
