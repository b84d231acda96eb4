import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeJpeg, decodePng } from '../../src/engine/data/codec';
import { generateSynthReid } from '../../src/engine/data/synth';
import { imageView } from '../../src/engine/data/types';
import { isLabError } from '../../src/engine/errors';
import { writeMarketLayout } from '../../src/node/write-market-layout';

const root = mkdtempSync(path.join(tmpdir(), 'synthreid-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const mem = generateSynthReid({ tier: 'XS', domain: 'target' });

describe('writeMarketLayout', () => {
  it('writes PNG files whose pixels equal the in-memory dataset, in Market-1501 folders, with a manifest', async () => {
    const dir = path.join(root, 'png');
    const out = await writeMarketLayout({ dir, tier: 'XS', domain: 'target', format: 'png' });
    const folders = { train: 'bounding_box_train', query: 'query', gallery: 'bounding_box_test' } as const;
    for (const split of ['train', 'query', 'gallery'] as const) {
      const files = readdirSync(path.join(dir, folders[split])).sort();
      const names = mem.dataset[split].names!.map((n) => n.replace(/\.jpg$/, '.png'));
      expect(files).toEqual(names);
      for (const i of [0, files.length - 1]) {
        const img = decodePng(readFileSync(path.join(dir, folders[split], files[i])));
        expect(img.width).toBe(64);
        expect(img.height).toBe(128);
        expect(Buffer.from(img.data).equals(Buffer.from(imageView(mem.dataset[split], i)))).toBe(true);
      }
    }
    const manifest = JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
    expect(manifest.digest).toBe(mem.manifest.digest);
    expect(manifest.files.format).toBe('png');
    expect(manifest.counts).toEqual(mem.manifest.counts);
    expect(out.counts.gallery).toBe(mem.dataset.gallery.count);
  });

  it('writes JPEG files close to the rendered pixels', async () => {
    const dir = path.join(root, 'jpeg');
    await writeMarketLayout({ dir, tier: 'XS', domain: 'target', format: 'jpeg', quality: 95 });
    const name = mem.dataset.query.names![2];
    const img = decodeJpeg(readFileSync(path.join(dir, 'query', name)));
    const ref = imageView(mem.dataset.query, 2);
    let err = 0;
    for (let i = 0; i < ref.length; i++) err += Math.abs(img.data[i] - ref[i]);
    expect(err / ref.length).toBeLessThan(4);
  });

  it('refuses bad options before touching the disk', async () => {
    const dir = path.join(root, 'never');
    for (const opts of [{ format: 'gif' as 'png' }, { quality: 0 }, { shift: 2 }]) {
      const err = await writeMarketLayout({ dir, tier: 'XS', domain: 'target', ...opts }).catch((e: unknown) => e);
      expect(isLabError(err, 'bad-argument')).toBe(true);
    }
    expect(() => readdirSync(dir)).toThrow();
  });
});

describe('writeMarketLayout JPEG encoder', () => {
  it('produces the same bytes as jpeg-js encode() (the codec) for the same image and quality', async () => {
    const { encodeJpeg } = await import('../../src/engine/data/codec');
    const dir = path.join(root, 'jpeg-same');
    await writeMarketLayout({ dir, tier: 'XS', domain: 'source', format: 'jpeg', quality: 90, onProgress: () => undefined });
    const src = generateSynthReid({ tier: 'XS', domain: 'source' });
    for (const i of [0, 5]) {
      const file = readFileSync(path.join(dir, 'bounding_box_train', src.dataset.train.names![i]));
      const ref = encodeJpeg({ width: 64, height: 128, data: imageView(src.dataset.train, i) }, 90);
      expect(Buffer.from(file).equals(Buffer.from(ref))).toBe(true);
    }
  });
});
