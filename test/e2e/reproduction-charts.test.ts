/**
 * scripts/reproduction-charts.ts end to end: from a results file it writes one SVG and one PNG
 * per chart (drawn by Debian's Chromium), the PNGs decode at the SVG's size × scale and show
 * each point's marker where the SVG puts it; a missing or bad results file is one clear sentence
 * and exit code 1, with nothing written. No preview server needed.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decode, hasPngSignature } from 'fast-png';
import { afterAll, describe, expect, it } from 'vitest';
import { reproductionToJson } from '../../src/engine/scenarios/reproduction-json';
import { elements, handMadeRecord, translate } from '../unit/reproduction-charts-fixtures';
import { CHROMIUM, ROOT } from './browser';

const tmp = mkdtempSync(join(tmpdir(), 'repro-charts-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function runScript(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [join(ROOT, 'node_modules/tsx/dist/cli.mjs'), join(ROOT, 'scripts/reproduction-charts.ts'), ...args], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, CHROMIUM_PATH: CHROMIUM }, timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const NAMES = ['rank1-vs-macs', 'map-vs-macs', 'before-after-rank1', 'paper-table5-rank1-vs-gflops'];

describe('scripts/reproduction-charts.ts', () => {
  it.skipIf(!existsSync(CHROMIUM))('writes an SVG and a PNG per chart; the PNG is the SVG drawn at 2x', () => {
    const input = join(tmp, 'reproduction.json');
    writeFileSync(input, reproductionToJson(handMadeRecord()));
    const out = join(tmp, 'charts');
    const r = runScript(['--in', input, '--out', out, '--scale', '2']);
    expect(r.stderr).not.toContain('error:');
    expect(r.code).toBe(0);
    const printed = r.stdout.trim().split('\n');
    expect(printed).toEqual([...NAMES.map((n) => join(out, `${n}.svg`)), ...NAMES.map((n) => join(out, `${n}.png`))]);
    for (const name of NAMES) {
      const svg = readFileSync(join(out, `${name}.svg`), 'utf8');
      const [, w, h] = /<svg [^>]*width="(\d+)" height="(\d+)"/.exec(svg)!.map(Number);
      const bytes = readFileSync(join(out, `${name}.png`));
      expect(hasPngSignature(bytes)).toBe(true);
      const png = decode(bytes);
      expect([png.width, png.height]).toEqual([2 * w, 2 * h]);
      // Each point's marker is drawn where the SVG says: its centre pixel is the marker's colour,
      // not the white background.
      const channels = png.channels;
      for (const p of elements(svg, 'g', 'point')) {
        const [x, y] = translate(p);
        const fill = /fill="#([0-9A-Fa-f]{6})"/.exec(p.inner)![1];
        const want = [0, 2, 4].map((i) => parseInt(fill.slice(i, i + 2), 16));
        const at = (Math.round(2 * y) * png.width + Math.round(2 * x)) * channels;
        const got = [0, 1, 2].map((c) => png.data[at + c]);
        got.forEach((v, c) => expect(Math.abs(v - want[c]), `${name} ${p.attrs['data-row']} pixel ${got} vs #${fill}`).toBeLessThanOrEqual(8));
      }
    }
  });

  it('a missing results file is one sentence that says how to make it, exit 1, nothing written', () => {
    const out = join(tmp, 'none');
    const r = runScript(['--in', join(tmp, 'missing.json'), '--out', out]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`error: No reproduction results at ${join(tmp, 'missing.json')}. Write them first with: npm run lab -- reproduce --json-out`);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
    expect(existsSync(out)).toBe(false);
  });

  it('a file that is not a results file names what is wrong, exit 1, nothing written', () => {
    const out = join(tmp, 'bad');
    const bad = join(tmp, 'bad.json');
    writeFileSync(bad, JSON.stringify({ format: 'something-else' }));
    const r = runScript(['--in', bad, '--out', out]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('error: The reproduction results file is not one the lab can read: its format is "something-else"');
    writeFileSync(bad, '{ not json');
    expect(runScript(['--in', bad, '--out', out]).stderr).toContain('it is not JSON');
    expect(existsSync(out)).toBe(false);
  });

  it('a missing Chromium is named, with how to install it', () => {
    const input = join(tmp, 'ok.json');
    writeFileSync(input, reproductionToJson(handMadeRecord()));
    const out = join(tmp, 'nochrome');
    const r = spawnSync(process.execPath, [join(ROOT, 'node_modules/tsx/dist/cli.mjs'), join(ROOT, 'scripts/reproduction-charts.ts'), '--in', input, '--out', out], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, CHROMIUM_PATH: join(tmp, 'no-chromium-here') } });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`error: Chromium is not installed at ${join(tmp, 'no-chromium-here')}`);
    expect(r.stderr).toContain('apt-get install -y chromium');
    // The SVGs do not need a browser, so they are there.
    expect(readdirSync(out).sort()).toEqual(NAMES.map((n) => `${n}.svg`).sort());
  });
});
