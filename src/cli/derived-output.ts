/**
 * The --out folder of a command that writes a model derived from --model (prune, finetune,
 * export --format folder): writable (checked before any work), and never the source itself, a
 * folder inside it or one around it unless --force, since the rename at the end would replace
 * the source model and its card. Paths are compared with symbolic links resolved, so a link to
 * the --model folder is the --model folder.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { LabError } from '../engine/errors';
import { MODEL_JSON } from '../node/model-files';
import { checkOutputFolder, isSameOrInside, type OutputFolder } from '../node/output-folder';
import { bool, str, type Flags } from './args';

/**
 * `p` with every symbolic link resolved, also when `p` does not exist yet: the nearest existing
 * folder above it is resolved and the missing rest appended.
 */
export async function realPathOf(p: string): Promise<string> {
  const missing: string[] = [];
  for (let at = path.resolve(p); ; at = path.dirname(at)) {
    try {
      return path.join(await fs.realpath(at), ...missing);
    } catch {
      if (path.dirname(at) === at) return path.resolve(p);
      missing.unshift(path.basename(at));
    }
  }
}

/** Throws a LabError when `out` is, lies inside or contains `model` (after resolving links). */
export async function refuseSourceOverwrite(out: string, model: string): Promise<void> {
  const [o, m] = await Promise.all([realPathOf(out), realPathOf(model)]);
  const relation = o === m ? 'is' : isSameOrInside(o, m) ? 'lies inside' : isSameOrInside(m, o) ? 'contains' : undefined;
  if (!relation) return;
  const kind = (await fs.stat(m).catch(() => undefined))?.isFile() ? 'file' : 'folder';
  throw new LabError(
    'bad-argument',
    `--out ${out} ${relation} the --model ${kind} ${model}; writing there would replace the source model and its card. Pick another --out, or add --force to replace it.`,
  );
}

export async function derivedOutput(flags: Flags, model: string): Promise<OutputFolder> {
  const given = str(flags, 'out');
  if (!bool(flags, 'force')) await refuseSourceOverwrite(given, model);
  return checkOutputFolder(given, MODEL_JSON);
}
