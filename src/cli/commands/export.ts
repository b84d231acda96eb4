/**
 * `lab export`: write a model as ONNX, as a PyTorch safetensors state dict (for the PyTorch
 * companion), as the lab's model folder, or write the pruning plan a `lab prune` run recorded
 * (applied to dense weights by `python3 -m prunability_torch apply-plan`). Outputs are written to a
 * temporary name and renamed at the end, so a failure leaves nothing half-written.
 */
import path from 'node:path';
import { modelToSafetensors } from '../../engine/model/safetensors';
import { modelToOnnx } from '../../engine/onnx/export';
import { parsePlan, serialisePlan } from '../../engine/prune/plan-json';
import { readBounded } from '../../node/bounded-read';
import { saveModelToFolder } from '../../node/model-files';
import { checkOutputFile, writeFileAtomically, writeFolderAtomically } from '../../node/output-folder';
import { derivedOutput } from '../derived-output';
import { loadCliModel } from '../model';
import { oneOf, str, type Flags } from '../args';

export const PLAN_FILE = 'plan.json';
/** A ResNet-50 at width 4 lists about 100k channel indices: a few MB of JSON at most. */
const MAX_PLAN_BYTES = 64 * 2 ** 20;

export async function exportCommand(flags: Flags): Promise<void> {
  const src = str(flags, 'model');
  const out = str(flags, 'out');
  const format = oneOf(flags, 'format', ['onnx', 'safetensors', 'plan', 'folder'], 'safetensors');
  // Outputs are checked before anything is read: an unwritable --out fails at once, and a folder
  // export onto --model (which the rename at the end would replace) needs --force.
  const folder = format === 'folder' ? await derivedOutput(flags, src) : undefined;
  const makeParents = folder ? undefined : await checkOutputFile(out, '--out');
  if (format === 'plan') {
    const file = path.join(src, PLAN_FILE);
    const bytes = await readBounded(file, MAX_PLAN_BYTES, 'bad-model-file', {
      missing: `${src} carries no pruning plan (${PLAN_FILE}): only model folders written by \`lab prune\` with a plan made for the dense model have one.`,
      tooBig: (n) => `${file} has ${n} bytes, more than a pruning plan can have (${MAX_PLAN_BYTES}); is it the right file?`,
    });
    const text = new TextDecoder().decode(bytes);
    // Re-serialised from the parsed plan, so what leaves the lab has passed its own checks.
    const checked = serialisePlan(parsePlan(text));
    await makeParents!();
    await writeFileAtomically(out, checked);
    process.stdout.write(`Wrote the pruning plan of ${src} to ${out}.\n`);
    return;
  }
  const { model } = await loadCliModel(flags);
  try {
    await makeParents?.();
    if (folder) {
      const dtype = oneOf<'float32' | 'float16'>(flags, 'dtype', ['float32', 'float16'], 'float32');
      await writeFolderAtomically(folder, (dir) => saveModelToFolder(model, dir, { dtype }));
    } else if (format === 'onnx') {
      await writeFileAtomically(out, await modelToOnnx(model));
    } else {
      const dtype = oneOf(flags, 'dtype', ['F32', 'F16'], 'F32');
      await writeFileAtomically(out, modelToSafetensors(model.spec, await model.toArrays(), { dtype }));
    }
    process.stdout.write(`Wrote ${src} as ${format} to ${out}.\n`);
  } finally {
    model.dispose();
  }
}
