/**
 * Composes docs/synthreid-contact-sheet.png: for each domain, a few outfit families (siblings
 * side by side), each person in several cameras, so a reader sees what SynthReID looks like
 * and how hard it is. Usage: npx tsx bench/contact-sheet.ts [out.png]
 */
import { writeFileSync } from 'node:fs';
import { encode } from 'fast-png';
import { renderSynthImage, synthRoster, domainCameraCount } from '../src/engine/data/synth';
import type { SynthDomain, Identity } from '../src/engine/data/synth';

const H = 128, W = 64, GAP = 2, SEP = 10;
const CAMS_PER_PERSON = 4;
const FAMILIES = 3;

function families(domain: SynthDomain): Identity[][] {
  const roster = synthRoster({ tier: 'S', domain });
  const byFamily = new Map<number, Identity[]>();
  for (const p of roster.test) byFamily.set(p.family, [...(byFamily.get(p.family) ?? []), p]);
  return [...byFamily.values()].filter((f) => f.length >= 3).slice(0, FAMILIES).map((f) => f.slice(0, 3));
}

const domains: SynthDomain[] = ['source', 'target'];
// Layout: one row block per domain; each row is a family; columns: 3 siblings x 4 cameras.
const rows = domains.length * FAMILIES;
const cols = 3 * CAMS_PER_PERSON;
const sheetW = cols * (W + GAP) + 2 * SEP;
const sheetH = rows * (H + GAP) + (domains.length - 1) * SEP;
const sheet = new Uint8Array(sheetW * sheetH * 3).fill(255);

function blit(img: Uint8Array, x0: number, y0: number): void {
  for (let y = 0; y < H; y++) sheet.set(img.subarray(y * W * 3, (y + 1) * W * 3), ((y0 + y) * sheetW + x0) * 3);
}

let row = 0;
domains.forEach((domain, di) => {
  const nCams = domainCameraCount(domain);
  for (const fam of families(domain)) {
    fam.forEach((p, k) => {
      for (let c = 0; c < CAMS_PER_PERSON; c++) {
        const cam = 1 + ((c + k) % nCams);
        const img = renderSynthImage({ domain, pid: p.pid, camera: cam, index: c % 2 });
        blit(img, k * (CAMS_PER_PERSON * (W + GAP) + SEP) + c * (W + GAP), row * (H + GAP) + di * SEP);
      }
    });
    row++;
  }
});

const out = process.argv[2] ?? 'docs/synthreid-contact-sheet.png';
writeFileSync(out, encode({ width: sheetW, height: sheetH, data: sheet, channels: 3 }));
console.log(`wrote ${out} (${sheetW}x${sheetH})`);
