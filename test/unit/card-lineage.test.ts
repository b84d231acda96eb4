/**
 * A zoo card for a model the PyTorch companion trained: `lab card --lineage FILE` takes the
 * training record from the file's lineage, every phase oldest first; a file without one is
 * refused with a sentence and the card is left as it was.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { initBackend } from '../../src/engine/backend/init';
import { buildSpec } from '../../src/engine/model/spec';
import { ReidModel } from '../../src/engine/model/model';
import { saveModelToFolder } from '../../src/node/model-files';
import { writeSafetensors } from '../../src/engine/model/safetensors';
import { LINEAGE_METADATA_KEY, lineagePhases, type ExternalLineage } from '../../src/engine/model/lineage';
import { cardCommand } from '../../src/cli/commands/card';

const pretrain: ExternalLineage = { engine: 'pytorch', kind: 'train', steps: 4000, data: 'P-64x32', previous: null };
const source: ExternalLineage = { engine: 'pytorch', kind: 'train', steps: 3000, data: 'M-source', previous: pretrain };
const finetune: ExternalLineage = { engine: 'pytorch', kind: 'finetune', steps: 100, data: 'S-target', previous: source };

describe('lineagePhases', () => {
  it('lists the chain oldest first, each record without its previous', () => {
    expect(lineagePhases(finetune)).toEqual([
      { engine: 'pytorch', kind: 'train', steps: 4000, data: 'P-64x32' },
      { engine: 'pytorch', kind: 'train', steps: 3000, data: 'M-source' },
      { engine: 'pytorch', kind: 'finetune', steps: 100, data: 'S-target' },
    ]);
    expect(lineagePhases(pretrain)).toHaveLength(1);
  });
});

describe('lab card --lineage', () => {
  let tmp: string;
  beforeAll(async () => {
    await initBackend('wasm');
    tmp = mkdtempSync(path.join(os.tmpdir(), 'card-lineage-'));
    const spec = buildSpec({ depth: 18, widthMultiplier: 0.125, inputHeight: 64, inputWidth: 32 });
    const model = ReidModel.init(spec, 1);
    await saveModelToFolder(model, path.join(tmp, 'm'));
    model.dispose();
    writeFileSync(path.join(tmp, 'trained.safetensors'), writeSafetensors([], { [LINEAGE_METADATA_KEY]: JSON.stringify(source) }));
    writeFileSync(path.join(tmp, 'plain.safetensors'), writeSafetensors([], { format: 'pt' }));
  });
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it('writes the phases into the card, next to its evaluations', async () => {
    await cardCommand({ model: path.join(tmp, 'm'), lineage: path.join(tmp, 'trained.safetensors') });
    const card = JSON.parse(readFileSync(path.join(tmp, 'm', 'card.json'), 'utf8'));
    expect(card.training).toEqual({
      engine: 'pytorch',
      file: 'trained.safetensors',
      phases: [
        { engine: 'pytorch', kind: 'train', steps: 4000, data: 'P-64x32' },
        { engine: 'pytorch', kind: 'train', steps: 3000, data: 'M-source' },
      ],
    });
    expect(card.evaluation.map((e: { dataset: string }) => e.dataset)).toEqual(['SynthReID-S/source', 'SynthReID-S/target']);
  }, 300_000);

  it('refuses a file without a training record and leaves the card as it was', async () => {
    const before = readFileSync(path.join(tmp, 'm', 'card.json'), 'utf8');
    await expect(cardCommand({ model: path.join(tmp, 'm'), lineage: path.join(tmp, 'plain.safetensors') })).rejects.toThrow(/carries no training record/);
    expect(readFileSync(path.join(tmp, 'm', 'card.json'), 'utf8')).toBe(before);
  });
});
