/**
 * Draws a reproduction's charts for docs/REPRODUCTION.md: reads the JSON record `lab reproduce
 * --json-out` wrote, writes each chart as SVG and renders it to PNG with Debian's Chromium
 * (playwright-core; no browser download), so the Markdown shows them anywhere.
 *
 * Usage: npx tsx scripts/reproduction-charts.ts [--in public/reproduction.json] [--out docs/reproduction] [--scale 2]
 * (CHROMIUM_PATH overrides /usr/bin/chromium.)
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium } from 'playwright-core';
import { isLabError } from '../src/engine/errors';
import { reproductionCharts, type Chart } from '../src/engine/scenarios/reproduction-charts';
import { parseReproductions, type ReproductionRecord } from '../src/engine/scenarios/reproduction-json';

const USAGE = 'Usage: npx tsx scripts/reproduction-charts.ts [--in public/reproduction.json] [--out docs/reproduction] [--scale 2]';

/** A failure the user can fix; printed as one sentence without a stack. */
class ChartError extends Error {}

interface Options {
  input: string;
  out: string;
  scale: number;
  chromium: string;
}

function parseArgs(argv: string[]): Options {
  const o: Options = { input: 'public/reproduction.json', out: 'docs/reproduction', scale: 2, chromium: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium' };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = argv[i + 1];
    if (flag === '--help' || flag === '-h') {
      process.stdout.write(USAGE + '\n');
      process.exit(0);
    }
    if (value === undefined || value.startsWith('--')) throw new ChartError(`${flag} needs a value. ${USAGE}`);
    if (flag === '--in') o.input = value;
    else if (flag === '--out') o.out = value;
    else if (flag === '--scale') {
      o.scale = Number(value);
      if (!(o.scale >= 1 && o.scale <= 4)) throw new ChartError(`--scale should be a number from 1 to 4 (pixels per SVG unit), found "${value}".`);
    } else throw new ChartError(`Unknown flag ${flag}. ${USAGE}`);
    i++;
  }
  return o;
}

/** The file's records: the first is the report's regime, the others are set beside it. */
function readRecords(path: string): ReproductionRecord[] {
  if (!existsSync(path)) throw new ChartError(`No reproduction results at ${path}. Write them first with: npm run lab -- reproduce --json-out ${path} --out docs/REPRODUCTION.md`);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ChartError(`Cannot read ${path}: ${(e as Error).message}`);
  }
  // parseReproductions throws a LabError sentence for anything that is not a results file.
  return parseReproductions(text);
}

/** Render each SVG to a PNG of its own size × scale, in one headless Chromium with a throwaway profile. */
async function renderPngs(charts: readonly Chart[], outDir: string, o: Options): Promise<string[]> {
  if (!existsSync(o.chromium)) throw new ChartError(`Chromium is not installed at ${o.chromium}, so the PNGs cannot be drawn (the SVGs were written). As root: apt-get update && apt-get install -y chromium (or set CHROMIUM_PATH).`);
  const profile = mkdtempSync(join(tmpdir(), 'repro-charts-'));
  const written: string[] = [];
  try {
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: o.chromium,
      args: ['--headless', '--no-sandbox', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--enable-unsafe-webgpu', '--enable-unsafe-swiftshader'],
      viewport: { width: Math.max(...charts.map((c) => c.width)), height: Math.max(...charts.map((c) => c.height)) },
      deviceScaleFactor: o.scale,
    }).catch((e: Error) => {
      throw new ChartError(`Chromium at ${o.chromium} did not start: ${e.message.split('\n')[0]}`);
    });
    try {
      const page = context.pages()[0] ?? (await context.newPage());
      for (const c of charts) {
        await page.setContent(`<!doctype html><html><head><meta charset="utf-8"></head><body style="margin:0;background:#fff">${c.svg}</body></html>`);
        const file = join(outDir, `${c.name}.png`);
        await page.locator('body > svg').screenshot({ path: file });
        written.push(file);
      }
    } finally {
      await context.close();
    }
  } finally {
    rmSync(profile, { recursive: true, force: true });
  }
  return written;
}

async function main(): Promise<number> {
  try {
    const o = parseArgs(process.argv.slice(2));
    const [record, ...others] = readRecords(resolve(o.input));
    const charts = reproductionCharts(record, others);
    const outDir = resolve(o.out);
    mkdirSync(outDir, { recursive: true });
    for (const c of charts) {
      const file = join(o.out, `${c.name}.svg`);
      writeFileSync(file, c.svg);
      process.stdout.write(`${file}\n`);
    }
    for (const file of await renderPngs(charts, o.out, o)) process.stdout.write(`${file}\n`);
    return 0;
  } catch (e) {
    if (e instanceof ChartError || isLabError(e)) {
      process.stderr.write(`error: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
}

process.exitCode = await main();
