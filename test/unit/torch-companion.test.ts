/**
 * The PyTorch companion (python/prunability_torch) against the lab: the same weights give the
 * same embeddings in both (dense and pruned, ResNet-18 and -50, last stride 1 and 2), a plan the
 * lab exports and the companion applies gives the lab's own pruned network, and bad input is one
 * line on stderr with nothing written. Runs Debian's /usr/bin/python3 (python3-torch).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/engine/backend/init';
import { buildSpec, type ResNetSpec } from '../../src/engine/model/spec';
import { ReidModel } from '../../src/engine/model/model';
import { initParamArrays } from '../../src/engine/model/init';
import { listParams } from '../../src/engine/model/names';
import { modelToSafetensors } from '../../src/engine/model/safetensors';
import { normalizeImages } from '../../src/engine/data/preprocess';
import { applyPlan, planPrune } from '../../src/engine/prune/plan';
import { getCriterion } from '../../src/engine/prune/criteria';
import { serialisePlan } from '../../src/engine/prune/plan-json';
import { Prng } from '../../src/engine/util/prng';

const ROOT = resolve(import.meta.dirname, '../..');
const PYTHON = '/usr/bin/python3';
const N = 6;
let dir: string;

beforeAll(async () => {
  await initBackend('wasm');
  dir = mkdtempSync(join(tmpdir(), 'torch-companion-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function companion(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(PYTHON, ['-m', 'prunability_torch', ...args], {
    cwd: join(ROOT, 'python'),
    env: { ...process.env, PYTHONPATH: join(ROOT, 'python'), OMP_NUM_THREADS: '1' },
    encoding: 'utf8',
    timeout: 300_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/**
 * A model with every parameter random, BN running statistics included (so eval-mode BN matters).
 * BN scales are positive and shifts small so that activations survive 50 layers: with shifts of
 * N(0, 0.5) most ReLUs were off, a pruned ResNet-50 gave every image the same embedding, and
 * comparing those proved nothing (see spread below).
 */
function randomModel(spec: ResNetSpec, seed: number): ReidModel {
  const arrays = initParamArrays(spec, seed);
  const rng = new Prng(seed + 1000);
  for (const info of listParams(spec)) {
    const a = arrays.get(info.name)!;
    if (info.role === 'bn.running_var' || info.role === 'bn.weight') for (let i = 0; i < a.length; i++) a[i] = 0.5 + rng.next();
    else if (info.role === 'bn.bias' || info.role === 'bn.running_mean') for (let i = 0; i < a.length; i++) a[i] = rng.normal(0, 0.1);
    else if (info.role !== 'conv' && info.role !== 'linear.weight') for (let i = 0; i < a.length; i++) a[i] = rng.normal(0, 0.5);
  }
  return ReidModel.fromArrays(spec, arrays);
}

function randomImages(spec: ResNetSpec, seed: number): Uint8Array {
  const rng = new Prng(seed);
  const out = new Uint8Array(N * spec.input.height * spec.input.width * 3);
  for (let i = 0; i < out.length; i++) out[i] = Math.floor(rng.next() * 256);
  return out;
}

async function labEmbeddings(model: ReidModel, images: Uint8Array): Promise<Float32Array> {
  const { height, width } = model.spec.input;
  const e = tf.tidy(() => model.embed(normalizeImages(images, N, height, width)));
  const v = (await e.data()) as Float32Array;
  e.dispose();
  return v;
}

function torchEmbeddings(modelFile: string, images: Uint8Array, tag: string): Float32Array {
  const imgFile = join(dir, `${tag}.rgb`);
  const outFile = join(dir, `${tag}.f32`);
  writeFileSync(imgFile, images);
  const r = companion('embed', '--model', modelFile, '--images', imgFile, '--count', String(N), '--out', outFile);
  expect(r.status, r.stderr).toBe(0);
  const b = readFileSync(outFile);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

/** max |a - b| relative to the output's largest magnitude. */
function relDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let scale = 0;
  let diff = 0;
  for (let i = 0; i < a.length; i++) {
    scale = Math.max(scale, Math.abs(a[i]));
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
  }
  return diff / scale;
}

async function writeSafetensors(model: ReidModel, name: string): Promise<string> {
  const file = join(dir, name);
  writeFileSync(file, modelToSafetensors(model.spec, await model.toArrays()));
  return file;
}

/** How much the embeddings differ between images, relative to their scale: a comparison of embeddings that do not depend on the image would be empty. */
function spread(e: Float32Array): number {
  const n = e.length / N;
  return relDiff(e.subarray(n), e.subarray(0, e.length - n));
}

/** Every group of the scope loses half its channels (local ranking; global L1 ranking cut this random ResNet-50's last two trunks to one channel). */
async function prunedCopy(model: ReidModel, scope: 'inner' | 'inner+trunk' = 'inner+trunk') {
  const plan = await planPrune(model, getCriterion('l1'), { criterion: 'l1', rate: 0.5, scope, ranking: 'local', seed: 1 });
  return { plan, pruned: await applyPlan(model, plan) };
}

/** Printed so that a run shows the numbers docs/SCALE_OUT.md records. */
function measured(what: string, value: number): void {
  console.log(`measured: ${what}: max relative difference ${value.toExponential(2)}`);
}

describe('PyTorch companion parity', () => {
  for (const depth of [18, 50] as const) {
    for (const lastStride of [1, 2] as const) {
      it(`ResNet-${depth}, last stride ${lastStride}: dense and pruned embeddings agree with the lab's`, async () => {
        const spec = buildSpec({ depth, widthMultiplier: 0.125, lastStride, inputHeight: 64, inputWidth: 32, numClasses: 5 });
        const model = randomModel(spec, depth + lastStride);
        const { pruned } = await prunedCopy(model);
        try {
          const images = randomImages(spec, 7);
          for (const [m, tag] of [[model, 'dense'], [pruned, 'pruned']] as const) {
            const file = await writeSafetensors(m, `r${depth}-s${lastStride}-${tag}.safetensors`);
            const lab = await labEmbeddings(m, images);
            expect(spread(lab)).toBeGreaterThan(0.01);
            const torch = torchEmbeddings(file, images, `r${depth}-s${lastStride}-${tag}`);
            measured(`ResNet-${depth} last stride ${lastStride} ${tag}, lab vs PyTorch embeddings`, relDiff(lab, torch));
            expect(relDiff(lab, torch)).toBeLessThan(1e-4);
          }
          // The check can fail: another model's embeddings are far off.
          const other = randomModel(spec, 99);
          expect(relDiff(await labEmbeddings(model, images), await labEmbeddings(other, images))).toBeGreaterThan(0.1);
          other.dispose();
        } finally {
          model.dispose();
          pruned.dispose();
        }
      });
    }
  }

  for (const scope of ['inner+trunk', 'inner'] as const) {
    it(`applies the lab's ${scope} plan to the dense weights and gets the lab's pruned network`, async () => {
      const spec = buildSpec({ depth: 50, widthMultiplier: 0.125, inputHeight: 64, inputWidth: 32 });
      const model = randomModel(spec, 3);
      const { plan, pruned } = await prunedCopy(model, scope);
      try {
        expect(plan.settings.scope).toBe(scope);
        const dense = await writeSafetensors(model, `plan-${scope}-dense.safetensors`);
        const planFile = join(dir, `plan-${scope}.json`);
        writeFileSync(planFile, serialisePlan(plan));
        const out = join(dir, `plan-${scope}-pruned.safetensors`);
        const r = companion('apply-plan', '--weights', dense, '--plan', planFile, '--out', out);
        expect(r.status, r.stderr).toBe(0);
        const info = JSON.parse(companion('info', '--model', out, '--json').stdout) as { spec: ResNetSpec };
        expect(info.spec.stages).toEqual(pruned.spec.stages);
        expect(info.spec.stages).not.toEqual(spec.stages);
        // An inner plan leaves every block's output (the residual trunk) whole.
        if (scope === 'inner') expect(info.spec.stages.map((s) => s.map((b) => b.outC))).toEqual(spec.stages.map((s) => s.map((b) => b.outC)));
        const images = randomImages(spec, 9);
        const lab = await labEmbeddings(pruned, images);
        expect(spread(lab)).toBeGreaterThan(0.01);
        const d = relDiff(lab, torchEmbeddings(out, images, `plan-${scope}`));
        measured(`ResNet-50 ${scope} plan applied in PyTorch vs the lab's pruned model, embeddings`, d);
        expect(d).toBeLessThan(1e-4);
      } finally {
        model.dispose();
        pruned.dispose();
      }
    });
  }

  it('refuses bad input with one line and writes nothing', async () => {
    const spec18 = buildSpec({ depth: 18, widthMultiplier: 0.125, inputHeight: 64, inputWidth: 32 });
    const spec50 = buildSpec({ depth: 50, widthMultiplier: 0.125, inputHeight: 64, inputWidth: 32 });
    const m18 = randomModel(spec18, 1);
    const m50 = randomModel(spec50, 1);
    const bad = join(dir, 'bad');
    rmSync(bad, { recursive: true, force: true });
    const { mkdirSync } = await import('node:fs');
    mkdirSync(bad);
    try {
      const good18 = await writeSafetensors(m18, 'bad/r18.safetensors');
      const corrupt = join(bad, 'corrupt.safetensors');
      writeFileSync(corrupt, readFileSync(good18).subarray(0, 200));
      const plan50 = join(bad, 'plan50.json');
      writeFileSync(plan50, serialisePlan((await prunedCopy(m50)).plan));
      const before = readdirSync(bad).sort();
      const cases: [string[], RegExp][] = [
        [['info', '--model', corrupt], /corrupt\.safetensors: the safetensors header claims \d+ bytes/],
        [['apply-plan', '--weights', good18, '--plan', plan50, '--out', join(bad, 'x.safetensors')], /made for a different network: the plan is for a ResNet-50, the weights are a ResNet-18/],
        [['apply-plan', '--weights', good18, '--plan', corrupt, '--out', join(bad, 'x.safetensors')], /not valid JSON/],
      ];
      for (const [args, message] of cases) {
        const r = companion(...args);
        expect(r.status).toBe(1);
        expect(r.stderr.trim().split('\n')).toHaveLength(1);
        expect(r.stderr).toMatch(message);
      }
      expect(readdirSync(bad).sort()).toEqual(before);
    } finally {
      m18.dispose();
      m50.dispose();
    }
  });
});
