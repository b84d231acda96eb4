/**
 * The round trip between the lab and its PyTorch companion, on SynthReID XS, with the real
 * commands a user runs: prune in the lab (CLI) -> export the dense weights and the pruning plan
 * -> apply the plan and fine-tune in PyTorch with two torchrun processes -> open the result in
 * the lab: `lab eval` scores it, and the page opens it and says it was fine-tuned in PyTorch.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/engine/backend/init';
import { buildSpec } from '../../src/engine/model/spec';
import { ReidModel } from '../../src/engine/model/model';
import { saveModelToFolder } from '../../src/node/model-files';
import { idle, openLab, useLabServer } from './browser';

const ROOT = resolve(import.meta.dirname, '../..');
const h = useLabServer();
let dir: string;

function run(cmd: string, args: string[], cwd = ROOT): string {
  const r = spawnSync(cmd, args, {
    cwd,
    env: { ...process.env, PYTHONPATH: join(ROOT, 'python'), OMP_NUM_THREADS: '1' },
    encoding: 'utf8',
    timeout: 600_000,
  });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}:\n${r.stderr}`);
  return r.stdout;
}
const lab = (...args: string[]) => run(process.execPath, [join(ROOT, 'node_modules/tsx/dist/cli.mjs'), 'src/cli/lab.ts', ...args]);
const companion = (...args: string[]) => run('/usr/bin/python3', ['-m', 'prunability_torch', ...args], join(ROOT, 'python'));

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'torch-roundtrip-'));
  await initBackend('wasm');
  const model = ReidModel.init(buildSpec({ depth: 18, widthMultiplier: 0.125 }), 5);
  await saveModelToFolder(model, join(dir, 'dense'));
  model.dispose();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('lab -> PyTorch -> lab', () => {
  it('prunes in the lab, fine-tunes with torchrun, and the lab opens and scores the result', async () => {
    lab('generate', '--tier', 'XS', '--domain', 'source', '--out', join(dir, 'xs'));
    lab('prune', '--model', join(dir, 'dense'), '--criterion', 'l1', '--rate', '0.4', '--scope', 'inner+trunk', '--tier', 'XS', '--ids', '8', '--images-per-id', '2', '--no-eval', '--out', join(dir, 'pruned'));
    lab('export', '--model', join(dir, 'dense'), '--format', 'safetensors', '--out', join(dir, 'dense.safetensors'));
    lab('export', '--model', join(dir, 'pruned'), '--format', 'plan', '--out', join(dir, 'plan.json'));
    companion('apply-plan', '--weights', join(dir, 'dense.safetensors'), '--plan', join(dir, 'plan.json'), '--out', join(dir, 'pruned.safetensors'));
    run('/usr/bin/python3', ['-m', 'prunability_torch.torchrun', '--standalone', '--nproc_per_node', '2', '-m', 'prunability_torch', 'finetune',
      '--model', join(dir, 'pruned.safetensors'), '--data', join(dir, 'xs'), '--steps', '3', '--p', '4', '--k', '2', '--threads', '1',
      '--out', join(dir, 'finetuned.safetensors')], join(ROOT, 'python'));
    expect(existsSync(join(dir, 'finetuned.safetensors'))).toBe(true);

    // The lab's CLI opens the PyTorch file, says where it came from, and scores it.
    const info = JSON.parse(lab('info', '--model', join(dir, 'finetuned.safetensors'), '--json')) as { spec: { stages: unknown } };
    const prunedInfo = JSON.parse(lab('info', '--model', join(dir, 'pruned'), '--json')) as { spec: { stages: unknown } };
    expect(info.spec.stages).toEqual(prunedInfo.spec.stages);
    const scored = JSON.parse(lab('eval', '--model', join(dir, 'finetuned.safetensors'), '--tier', 'XS', '--domain', 'target', '--json')) as { mAP: number; rank1: number };
    expect(scored.mAP).toBeGreaterThan(0);
    expect(scored.mAP).toBeLessThanOrEqual(1);

    // The page opens it and marks its lineage.
    const page = await openLab(h.lb, h.server.origin, '?backend=wasm&model=tiny&tier=XS');
    try {
      await idle(page, 180_000);
      await page.page.getByTestId('model-files').setInputFiles([join(dir, 'finetuned.safetensors')]);
      await expect
        .poll(() => page.page.getByTestId('lineage').textContent(), { timeout: 120_000 })
        .toMatch(/^fine-tuned in PyTorch, 3 steps on xs \(2 processes\); before that pruned with a lab plan in PyTorch; in the lab: dense/);
      expect(page.errors).toEqual([]);
    } finally {
      await page.close();
    }
  });
});
