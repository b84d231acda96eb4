import { describe, expect, it } from 'vitest';
import { checkPickedJson, safetensorsMetadata, statesLastStride } from '../../src/workers/model-json-check';
import { MODEL_FORMAT } from '../../src/engine/model/weights-io';
import { PLAN_JSON_FORMAT } from '../../src/engine/prune/plan-json';
import { writeSafetensors } from '../../src/engine/model/safetensors';
import { isLabError } from '../../src/engine/errors';

function refusal(value: unknown, others: string[] = ['w.bin']): string {
  try {
    checkPickedJson(value, 'model.json', others);
  } catch (e) {
    expect(isLabError(e, 'bad-model-file')).toBe(true);
    return (e as Error).message;
  }
  throw new Error('accepted');
}

const good = { format: MODEL_FORMAT, modelTopology: {}, weightsManifest: [{ paths: ['w.bin'], weights: [] }] };

describe('a picked model.json, before tfjs reads it', () => {
  it('refuses null, lists, texts and numbers by what they are, naming the file', () => {
    expect(refusal(null)).toMatch(/^model\.json holds null, not a model description .*; pick the model\.json the lab \(or tfjs\) wrote, together with its \.bin weight files\.$/);
    expect(refusal([])).toMatch(/^model\.json holds a list/);
    expect(refusal('x')).toMatch(/^model\.json holds a text/);
    expect(refusal(3)).toMatch(/^model\.json holds number 3/);
  });

  it('says what the format is instead of "undefined", and knows pruning plans', () => {
    expect(refusal({ modelTopology: {} })).toMatch(/^model\.json has no "format" field, so it is neither a Prunability Lab model/);
    expect(refusal({ format: 'layers-model' })).toMatch(/^model\.json has format "layers-model"/);
    expect(checkPickedJson({ format: PLAN_JSON_FORMAT }, 'plan.json', [])).toEqual({ kind: 'plan' });
  });

  it('refuses a manifest without paths and a model.json picked without its .bin files, naming them', () => {
    expect(refusal({ ...good, weightsManifest: null })).toMatch(/has no weightsManifest listing its weight files/);
    expect(refusal({ ...good, weightsManifest: [null] })).toMatch(/weightsManifest entry 1 has no list of weight file names/);
    expect(refusal({ ...good, weightsManifest: [{ paths: 'w.bin' }] })).toMatch(/entry 1 has no list/);
    expect(refusal(good, [])).toBe('model.json needs the weight file w.bin, which was not picked; select model.json together with all its .bin files (Ctrl- or Shift-click in the file dialog).');
    const many = { ...good, weightsManifest: [{ paths: ['a.bin', 'b.bin', 'c.bin', 'd.bin'] }] };
    expect(refusal(many, ['a.bin'])).toMatch(/needs the weight files b\.bin, c\.bin, d\.bin, which were not picked/);
    expect(checkPickedJson({ ...good, weightsManifest: [{ paths: ['sub/w.bin'] }] }, 'model.json', ['w.bin'])).toEqual({ kind: 'model' });
  });
});

describe('what a .safetensors header says about the last stride', () => {
  const tensor = { name: 'x', dtype: 'F32' as const, shape: [1], bytes: new Uint8Array(4) };
  it('reads the lab spec and the last_stride key; anything else is silence', () => {
    const meta = (m?: Record<string, string>) => statesLastStride(safetensorsMetadata(writeSafetensors([tensor], m)));
    expect(meta()).toBe(false);
    expect(meta({ last_stride: '2' })).toBe(true);
    expect(meta({ last_stride: '3' })).toBe(false);
    expect(meta({ 'prunability-lab.spec': JSON.stringify({ lastStride: 1 }) })).toBe(true);
    expect(meta({ 'prunability-lab.spec': '{not json' })).toBe(false);
    expect(safetensorsMetadata(new Uint8Array(3))).toEqual({});
  });
});
