/**
 * `lab card --model DIR [--notes TEXT] [--lineage FILE.safetensors] [--m-target]`: re-evaluate a
 * saved model and rewrite its card.json, keeping the card's training record. Used after a training
 * run ends early, when the benchmark's evaluation protocol changes, or for a model trained by the
 * PyTorch companion: --lineage takes the training record (every phase, oldest first) from the
 * companion's file, --m-target adds the Market-scale held-out evaluation.
 */
import * as path from 'node:path';
import { loadModelFromFolder } from '../../node/model-files';
import { readTextBounded } from '../../node/bounded-read';
import { CARD_FILE, writeCard } from '../card';
import { optStr, str, type Flags } from '../args';
import { readBounded } from '../../node/bounded-read';
import { parseSafetensors } from '../../engine/model/safetensors';
import { lineagePhases, parseLineage } from '../../engine/model/lineage';
import { LabError } from '../../engine/errors';

export async function cardCommand(flags: Flags): Promise<void> {
  const dir = str(flags, 'model');
  let previous: Record<string, unknown> = {};
  try {
    previous = JSON.parse(await readTextBounded(path.join(dir, CARD_FILE), 16 << 20, 'bad-model-file', 'The card')) as Record<string, unknown>;
  } catch {
    // No card yet: write a fresh one.
  }
  const { model } = await loadModelFromFolder(dir);
  try {
    const keep: Record<string, unknown> = {};
    for (const k of ['training', 'notes']) if (previous[k] !== undefined) keep[k] = previous[k];
    const notes = optStr(flags, 'notes');
    if (notes !== undefined) keep.notes = notes;
    const from = optStr(flags, 'lineage');
    if (from !== undefined) keep.training = await trainingRecordOf(from);
    await writeCard(dir, model, keep, { marketTarget: flags['m-target'] === true });
    process.stdout.write(`Wrote ${path.join(dir, CARD_FILE)}\n`);
  } finally {
    model.dispose();
  }
}

/** The card's training record from a companion file's lineage: its phases, oldest first. */
async function trainingRecordOf(file: string): Promise<Record<string, unknown>> {
  const bytes = await readBounded(file, 1 << 30, 'bad-model-file', { missing: `--lineage: ${file} cannot be read.`, tooBig: (n) => `--lineage: ${file} has ${n} bytes; is it a model file?` });
  const lineage = parseLineage(parseSafetensors(bytes).metadata);
  if (!lineage) throw new LabError('bad-model-file', `--lineage: ${file} carries no training record (prunability-lab.lineage); only the PyTorch companion's files do.`);
  return { engine: lineage.engine, file: path.basename(file), phases: lineagePhases(lineage) };
}
