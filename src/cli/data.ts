/**
 * Resolve the dataset a CLI command works on: a SynthReID tier/domain (generated in memory,
 * deterministic), or a real dataset folder/zip on disk (Market-1501 family, MSMT17).
 */
import type { ReidDataset } from '../engine/data/types';
import { generateSynthReid } from '../engine/data/synth';
import type { SynthDomain, SynthSplitName, SynthTier } from '../engine/data/synth';
import { loadReidDataset } from '../engine/data/market/load';
import { nodeDatasetSource } from '../node/folder-source';
import { ProgressBar } from './progress';
import { num, oneOf, optStr, type Flags } from './args';

export interface DataChoice {
  dataset: ReidDataset;
  /** How to reproduce it, for cards and logs. */
  describe: string;
}

/** `splits`: what the command uses (default all three); the others come back empty, so `eval` on tier P or a pool folder skips 50k training images. */
export async function resolveDataset(flags: Flags, size: { height: number; width: number }, defaults: { domain?: SynthDomain; splits?: readonly SynthSplitName[] } = {}): Promise<DataChoice> {
  const dataPath = optStr(flags, 'data');
  if (dataPath) {
    const source = await nodeDatasetSource(dataPath);
    const loaded = await loadReidDataset(source, {
      height: size.height,
      width: size.width,
      testIdentities: flags['test-ids'] !== undefined ? num(flags, 'test-ids', 0, { integer: true, min: 1 }) : undefined,
      seed: num(flags, 'seed', 1, { integer: true, min: 0 }),
      splits: defaults.splits,
    });
    for (const w of loaded.report.warnings) process.stderr.write(`warning: ${w}\n`);
    if (loaded.report.skipped.length) process.stderr.write(`warning: ${loaded.report.skipped.length} file(s) skipped, e.g. ${loaded.report.skipped[0].path}: ${loaded.report.skipped[0].reason}\n`);
    return { dataset: loaded, describe: `--data ${dataPath}` };
  }
  const tier = oneOf<SynthTier>(flags, 'tier', ['XS', 'S', 'M', 'P'], 'S');
  const domain = oneOf<SynthDomain>(flags, 'domain', ['source', 'target', 'pool'], tier === 'P' ? 'pool' : defaults.domain ?? 'source');
  const shift = num(flags, 'shift', 1, { min: 0, max: 1 });
  const dataSeed = flags['data-seed'] !== undefined ? num(flags, 'data-seed', 0, { integer: true, min: 0 }) : undefined;
  const bar = new ProgressBar(`SynthReID ${tier}/${domain}`, 1);
  const { dataset } = generateSynthReid({
    tier,
    domain,
    shift,
    seed: dataSeed,
    height: size.height,
    width: size.width,
    splits: defaults.splits,
    onProgress: ({ done, total }) => {
      bar.total = total;
      bar.update(done);
    },
  });
  bar.finish();
  return { dataset, describe: `--tier ${tier} --domain ${domain}${domain === 'target' ? ` --shift ${shift}` : ''}${dataSeed !== undefined ? ` --data-seed ${dataSeed}` : ''}` };
}
