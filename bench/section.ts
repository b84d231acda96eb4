/**
 * BENCHMARKS.md is written section by section: each benchmark replaces only its own "## "
 * heading's block and leaves every other block as it was.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

export const BENCH_FILE = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'BENCHMARKS.md');

/** Replace the block under `heading` (up to the next "## " heading) or append it. */
export function replaceSection(doc: string, heading: string, section: string): string {
  const body = section.endsWith('\n') ? section : section + '\n';
  const start = doc.startsWith(`${heading}\n`) ? 0 : doc.indexOf(`\n${heading}\n`) + 1;
  if (start <= 0 && !doc.startsWith(`${heading}\n`)) return doc.replace(/\s*$/, '\n\n') + body;
  const next = doc.indexOf('\n## ', start + heading.length);
  return doc.slice(0, start) + body + (next < 0 ? '' : '\n' + doc.slice(next + 1));
}

/** Write `section` (which starts with `heading`) into BENCHMARKS.md. */
export function writeSection(heading: string, section: string): void {
  const doc = existsSync(BENCH_FILE) ? readFileSync(BENCH_FILE, 'utf8') : '# Benchmarks\n';
  writeFileSync(BENCH_FILE, replaceSection(doc, heading, section));
  console.log(`wrote "${heading}" in BENCHMARKS.md`);
}
