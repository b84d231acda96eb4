/**
 * Fuzzing the `lab` command line (issue 20, item 12): random argument lists per command made of
 * its real flags, one-edit typos of them, flags of other commands, values with and without `=`,
 * stray words, and on/off flags given values. The oracle is worked out from the command's flag
 * table (src/cli/flags.ts) independently of the parser: every real flag parses to the value the
 * user wrote (true for a bare on/off flag); the first flag the command does not take is a
 * LabError naming it, suggesting a real flag within one edit when the typo came from one; a stray
 * word is a LabError naming it. Nothing is ever silently ignored.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { parseFlags } from '../../src/cli/args';
import { COMMAND_FLAGS } from '../../src/cli/flags';
import { isLabError } from '../../src/engine/errors';
import { Prng } from '../../src/engine/util/prng';
import { fuzzCase, newTally, summarize, verify, type Tally } from './fuzz/harness';

const tallies: Tally[] = [];
afterAll(() => {
  for (const t of tallies) console.info(`[fuzz] ${summarize(t)}`);
});

/** Levenshtein distance, written out here so the oracle does not share the parser's code. */
function distance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) for (let j = 1; j <= b.length; j++) d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
  return d[a.length][b.length];
}

function typo(name: string, r: Prng): string {
  const letters = 'abcdefghijklmnopqrstuvwxyz-';
  const i = r.int(0, name.length - 1);
  switch (r.int(0, 2)) {
    case 0:
      return name.length > 2 ? name.slice(0, i) + name.slice(i + 1) : `${name}x`;
    case 1:
      return name.slice(0, i) + r.pick([...letters]) + name.slice(i);
    default:
      return name.slice(0, i) + r.pick([...letters]) + name.slice(i + 1);
  }
}

describe('fuzz: command-line flags', () => {
  it('random argument lists for every command (400 cases)', async () => {
    const t = newTally('CLI flags');
    tallies.push(t);
    const commands = Object.keys(COMMAND_FLAGS);
    const everyFlag = [...new Set(commands.flatMap((c) => [...COMMAND_FLAGS[c].value, ...COMMAND_FLAGS[c].boolean]))];
    const rng = new Prng(2027);
    for (let i = 0; i < 400; i++) {
      const r = rng.fork(i);
      const command = r.pick(commands);
      const spec = COMMAND_FLAGS[command];
      const valueFlags = [...spec.value, 'backend'];
      const known = new Set([...valueFlags, ...spec.boolean]);
      const args: string[] = [];
      const expected = new Map<string, string | boolean>();
      type Bad = { kind: 'flag'; name: string; from?: string } | { kind: 'word'; word: string } | { kind: 'bool-value'; name: string };
      let firstBad: Bad | undefined;
      const n = r.int(1, 6);
      for (let k = 0; k < n; k++) {
        const what = r.int(0, 9);
        if (what <= 4 || firstBad) {
          // A real flag, written as --name value, --name=value, or bare for on/off flags.
          if (spec.boolean.length && r.bool(0.3)) {
            const b = r.pick(spec.boolean);
            if (r.bool(0.2)) {
              const v = r.pick(['true', 'false']);
              args.push(`--${b}=${v}`);
              expected.set(b, v === 'true');
            } else {
              args.push(`--${b}`);
              expected.set(b, true);
            }
          } else {
            const f = r.pick(valueFlags);
            const v = r.pick(['1', '0.5', 'XS', 'model dir', 'a=b', '-3', 'x'.repeat(r.int(1, 5))]);
            if (r.bool(0.5)) args.push(`--${f}=${v}`);
            else args.push(`--${f}`, v);
            expected.set(f, v);
          }
        } else if (what <= 6) {
          const from = r.pick([...known]);
          const name = typo(from, r);
          args.push(`--${name}`, '1');
          if (!known.has(name)) firstBad = { kind: 'flag', name, from };
          else expected.set(name, spec.boolean.includes(name) ? true : '1');
          if (known.has(name) && spec.boolean.includes(name)) firstBad = { kind: 'bool-value', name };
        } else if (what === 7) {
          const name = r.pick(everyFlag);
          args.push(`--${name}`, '2');
          if (!known.has(name)) firstBad = { kind: 'flag', name };
          else if (spec.boolean.includes(name)) firstBad = { kind: 'bool-value', name };
          else expected.set(name, '2');
        } else if (what === 8) {
          const word = r.pick(['stray', 'out', '-x', '42']);
          args.push(word);
          firstBad = { kind: 'word', word };
        } else if (spec.boolean.length) {
          const b = r.pick(spec.boolean);
          args.push(`--${b}=${r.pick(['yes', '1', 'on'])}`);
          firstBad = { kind: 'bool-value', name: b };
        }
      }
      const op = firstBad ? `bad ${firstBad.kind}` : 'valid';
      await fuzzCase(t, `${command} ${JSON.stringify(args)}`, op, () => {
        let flags: ReturnType<typeof parseFlags>;
        try {
          flags = parseFlags(args, command);
        } catch (e) {
          if (!isLabError(e, 'bad-argument') || !firstBad) throw e;
          // The first bad thing is what the sentence names (a later one may exist; the first stops parsing).
          const m = e.message;
          if (firstBad.kind === 'flag') {
            verify(m.includes(`--${firstBad.name} `) || m.includes(`--${firstBad.name};`) || m.includes(`--${firstBad.name}.`) || m.includes(`--${firstBad.name} for`), `"${m}" does not name --${firstBad.name}`);
            const s = (e.detail as { suggestion?: string } | undefined)?.suggestion;
            if (firstBad.from) verify(s !== undefined && known.has(s) && distance(s, firstBad.name) <= 1, `typo --${firstBad.name} of --${firstBad.from}: suggested ${s ?? 'nothing'}`);
            if (s !== undefined) verify(known.has(s), `suggested --${s}, which ${command} does not take`);
          }
          throw e;
        }
        verify(!firstBad, `parsed although ${JSON.stringify(firstBad)}`);
        for (const [k, v] of expected) verify(flags[k] === v, `--${k}: parsed ${JSON.stringify(flags[k])}, written ${JSON.stringify(v)}`);
        verify(Object.keys(flags).every((k) => known.has(k)), 'parsed a flag the command does not take');
        return 'parsed as written';
      });
    }
    expect(t.failures).toEqual([]);
    expect(t.loaded['parsed as written']).toBeGreaterThan(50);
    expect(t.errors['bad-argument']).toBeGreaterThan(100);
  });
});
