/**
 * `lab card --model DIR [--notes TEXT]`: re-evaluate a saved model and rewrite its card.json, keeping the
 * card's training record. Used after a training run ends early, or when the benchmark's
 * evaluation protocol changes.
 */
import * as path from 'node:path';
import { loadModelFromFolder } from '../../node/model-files';
import { readTextBounded } from '../../node/bounded-read';
import { CARD_FILE, writeCard } from '../card';
import { optStr, str, type Flags } from '../args';

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
    await writeCard(dir, model, keep);
    process.stdout.write(`Wrote ${path.join(dir, CARD_FILE)}\n`);
  } finally {
    model.dispose();
  }
}
