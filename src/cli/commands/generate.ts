/** `lab generate`: write a SynthReID tier to disk in the Market-1501 layout (JPEG or PNG). */
import { writeMarketLayout } from '../../node/write-market-layout';
import type { SynthDomain, SynthTier } from '../../engine/data/synth';
import { ProgressBar } from '../progress';
import { checkOutputFolder, writeFolderAtomically } from '../../node/output-folder';
import { num, oneOf, str, type Flags } from '../args';

export async function generateCommand(flags: Flags): Promise<void> {
  const tier = oneOf<SynthTier>(flags, 'tier', ['XS', 'S', 'M', 'P'], 'S');
  // Tier P is the pre-training pool and only the pool; the generator refuses other pairings.
  const domain = oneOf<SynthDomain>(flags, 'domain', ['source', 'target', 'pool'], tier === 'P' ? 'pool' : 'source');
  const format = oneOf(flags, 'format', ['jpg', 'jpeg', 'png'], 'jpg');
  const out = await checkOutputFolder(str(flags, 'out'), 'manifest.json');
  const bar = new ProgressBar(`SynthReID ${tier}/${domain}`, 1);
  // Written beside --out and renamed onto it when complete: never a half-written dataset.
  const written = await writeFolderAtomically(out, (dir) => writeMarketLayout({
    tier,
    domain,
    shift: num(flags, 'shift', 1, { min: 0, max: 1 }),
    seed: flags['data-seed'] !== undefined ? num(flags, 'data-seed', 0, { integer: true, min: 0 }) : undefined,
    height: num(flags, 'height', 128, { integer: true, min: 32 }),
    width: num(flags, 'img-width', 64, { integer: true, min: 16 }),
    dir,
    format: format === 'png' ? 'png' : 'jpeg',
    quality: num(flags, 'quality', 95, { integer: true, min: 1, max: 100 }),
    onProgress: ({ done, total }) => {
      bar.total = total;
      bar.update(done);
    },
  }));
  bar.finish();
  const c = written.counts;
  process.stdout.write(`Wrote ${c.train} training, ${c.query} query and ${c.gallery} gallery images (${(written.bytesWritten / 1e6).toFixed(1)} MB) to ${out.given}, with manifest.json.\n`);
}
