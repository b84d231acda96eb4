/**
 * `lab export`: write a model as ONNX, as a PyTorch safetensors state dict (for the PyTorch
 * companion), as the lab's model folder, or write the pruning plan a `lab prune` run recorded
 * (applied to dense weights by `python3 -m prunability_torch apply-plan`). Files are written to a
 * temporary name and renamed at the end, so a failure leaves nothing half-written.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { LabError } from '../../engine/errors';
import { modelToSafetensors } from '../../engine/model/safetensors';
import { modelToOnnx } from '../../engine/onnx/export';
import { parsePlan, serialisePlan } from '../../engine/prune/plan-json';
import { openModel } from '../../node/open-model';
import { saveModelToFolder } from '../../node/model-files';
import { oneOf, str, type Flags } from '../args';

export const PLAN_FILE = 'plan.json';

async function writeAtomically(out: string, bytes: Uint8Array | string): Promise<void> {
  await fs.mkdir(path.dirname(path.resolve(out)), { recursive: true });
  const tmp = `${out}.tmp-${process.pid}`;
  try {
    await fs.writeFile(tmp, bytes);
    await fs.rename(tmp, out);
  } catch (e) {
    await fs.rm(tmp, { force: true });
    throw e;
  }
}

export async function exportCommand(flags: Flags): Promise<void> {
  const src = str(flags, 'model');
  const out = str(flags, 'out');
  const format = oneOf(flags, 'format', ['onnx', 'safetensors', 'plan', 'folder'], 'safetensors');
  if (format === 'plan') {
    const file = path.join(src, PLAN_FILE);
    let text: string;
    try {
      text = await fs.readFile(file, 'utf8');
    } catch {
      throw new LabError(
        'bad-model-file',
        `${src} carries no pruning plan (${PLAN_FILE}): only model folders written by \`lab prune\` with a plan made for the dense model have one.`,
      );
    }
    // Re-serialised from the parsed plan, so what leaves the lab has passed its own checks.
    await writeAtomically(out, serialisePlan(parsePlan(text)));
    process.stdout.write(`Wrote the pruning plan of ${src} to ${out}.\n`);
    return;
  }
  const opened = await openModel(src);
  for (const n of opened.notes) process.stderr.write(`note: ${n}\n`);
  const { model } = opened;
  try {
    if (format === 'folder') {
      const tmp = `${out}.tmp-${process.pid}`;
      try {
        await saveModelToFolder(model, tmp, { dtype: oneOf<'float32' | 'float16'>(flags, 'dtype', ['float32', 'float16'], 'float32') });
        await fs.rm(out, { recursive: true, force: true });
        await fs.rename(tmp, out);
      } catch (e) {
        await fs.rm(tmp, { recursive: true, force: true });
        throw e;
      }
    } else if (format === 'onnx') {
      await writeAtomically(out, await modelToOnnx(model));
    } else {
      const dtype = oneOf(flags, 'dtype', ['F32', 'F16'], 'F32');
      await writeAtomically(out, modelToSafetensors(model.spec, await model.toArrays(), { dtype }));
    }
    process.stdout.write(`Wrote ${src} as ${format} to ${out}.\n`);
  } finally {
    model.dispose();
  }
}
