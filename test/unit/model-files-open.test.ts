/**
 * Opening files as the worker does (model-files.ts), in Node: every refusal is one sentence that
 * names the file; a pruning plan is recognised and handed on; a .safetensors that does not state
 * its last stride is opened with 1 and flagged so the page asks.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/engine/backend/init';
import { buildSpec } from '../../src/engine/model/spec';
import { initParamArrays } from '../../src/engine/model/init';
import { modelToSafetensors, parseSafetensors, writeSafetensors } from '../../src/engine/model/safetensors';
import { PLAN_JSON_FORMAT } from '../../src/engine/prune/plan-json';
import { isLabError } from '../../src/engine/errors';
import { openModelFiles } from '../../src/workers/model-files';

const spec = buildSpec({ depth: 18, widthMultiplier: 0.125, inputHeight: 64, inputWidth: 32 });
const file = (name: string, bytes: Uint8Array | string) => new File([typeof bytes === 'string' ? bytes : new Uint8Array(bytes)], name);

beforeAll(async () => {
  await initBackend('wasm');
});

async function refusal(files: File[]): Promise<string> {
  try {
    await openModelFiles(files);
  } catch (e) {
    expect(isLabError(e)).toBe(true);
    return (e as Error).message;
  }
  throw new Error('accepted');
}

describe('opening picked files', () => {
  it('names the file in every refusal, whatever the format', async () => {
    expect(await refusal([file('junk.safetensors', new Uint8Array(20))])).toMatch(/^junk\.safetensors: /);
    expect(await refusal([file('junk.onnx', new Uint8Array([0x0f, 1]))])).toMatch(/^junk\.onnx: This file is not a readable ONNX model/);
    expect(await refusal([file('a.onnx', 'x'), file('b.onnx', 'y')])).toMatch(/^Open one \.onnx file on its own; found 2 files \(a\.onnx, b\.onnx\)\.$/);
    expect(await refusal([file('model.json', 'null'), file('g.bin', new Uint8Array(4))])).toMatch(/^model\.json holds null/);
    expect(await refusal([file('weights.bin', new Uint8Array(4))])).toMatch(/got weights\.bin\.$/);
    expect(await refusal([])).toMatch(/^No files arrived/);
  });

  it('hands a pruning plan on as text, and flags a .safetensors that does not state its last stride', async () => {
    const plan = await openModelFiles([file('p.json', JSON.stringify({ format: PLAN_JSON_FORMAT }))]);
    expect(plan).toMatchObject({ kind: 'plan', name: 'p.json' });
    const full = modelToSafetensors(spec, initParamArrays(spec, 2));
    const stated = await openModelFiles([file('stated.safetensors', full)]);
    expect(stated.kind === 'model' && stated.lastStrideAssumed).toBeUndefined();
    const silentBytes = writeSafetensors([...parseSafetensors(full).tensors].map(([name, t]) => ({ name, ...t })), { format: 'pt' });
    const silent = await openModelFiles([file('silent.safetensors', silentBytes)]);
    expect(silent.kind === 'model' && silent.lastStrideAssumed).toBe(1);
    const two = await openModelFiles([file('silent.safetensors', silentBytes)], { lastStride: 2 });
    expect(two.kind === 'model' && two.model.spec.lastStride).toBe(2);
    expect(two.kind === 'model' && two.lastStrideAssumed).toBeUndefined();
    for (const o of [stated, silent, two]) if (o.kind === 'model') o.model.dispose();
  });
});
