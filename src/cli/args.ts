/** Small typed helpers over node:util parseArgs values, with clear errors for bad flags. */
import { LabError } from '../engine/errors';
import { closest } from './closest';
import { checkFlagName, isBooleanFlag } from './flags';

export type Flags = Record<string, string | boolean | undefined>;

export function str(flags: Flags, name: string, fallback?: string): string {
  const v = flags[name];
  if (v === undefined || v === true || v === false) {
    if (fallback === undefined) throw new LabError('bad-argument', `Missing --${name}.`);
    return fallback;
  }
  return v;
}

export function optStr(flags: Flags, name: string): string | undefined {
  const v = flags[name];
  return typeof v === 'string' ? v : undefined;
}

export function num(flags: Flags, name: string, fallback: number, check?: { min?: number; max?: number; integer?: boolean }): number {
  const raw = flags[name];
  if (raw === undefined) return fallback;
  const v = Number(raw);
  const bad = () => {
    const parts: string[] = [];
    if (check?.integer) parts.push('a whole number');
    if (check?.min !== undefined) parts.push(`>= ${check.min}`);
    if (check?.max !== undefined) parts.push(`<= ${check.max}`);
    throw new LabError('bad-argument', `--${name} must be ${parts.length ? parts.join(', ') : 'a number'}; got "${String(raw)}".`);
  };
  if (typeof raw !== 'string' || raw.trim() === '' || !Number.isFinite(v)) bad();
  if (check?.integer && !Number.isInteger(v)) bad();
  if (check?.min !== undefined && v < check.min) bad();
  if (check?.max !== undefined && v > check.max) bad();
  return v;
}

export function bool(flags: Flags, name: string): boolean {
  const v = flags[name];
  if (v === undefined || v === false || v === 'false') return false;
  if (v === true || v === 'true') return true;
  throw new LabError('bad-argument', `--${name} is on or off and takes no value; got "${String(v)}".`);
}

export function oneOf<T extends string>(flags: Flags, name: string, allowed: readonly T[], fallback: T): T {
  const raw = flags[name];
  if (raw === true) throw new LabError('bad-argument', `--${name} needs a value: one of ${allowed.join(', ')}.`);
  const v = optStr(flags, name) ?? fallback;
  if (!allowed.includes(v as T)) {
    const near = closest(v, allowed);
    throw new LabError('bad-argument', `--${name} must be one of ${allowed.join(', ')}; got "${v}"${near ? ` (did you mean ${near}?)` : ''}.`, { flag: name, suggestion: near });
  }
  return v as T;
}

/**
 * `--key value`, `--key=value` and bare `--flag` (true). Written by hand because
 * node:util parseArgs needs every option declared up front, and commands own their flags.
 * With `command`, every flag must be one it takes (flags.ts), and its boolean flags never
 * swallow the next argument.
 */
export function parseFlags(args: readonly string[], command?: string): Flags {
  const flags: Flags = {};
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (!a.startsWith('--') || a.length === 2) {
      const prev = i > 0 && args[i - 1].startsWith('--') && !args[i - 1].includes('=') ? args[i - 1].slice(2) : undefined;
      if (command && prev && isBooleanFlag(command, prev)) throw new LabError('bad-argument', `--${prev} is on or off and takes no value; remove "${a}" after it.`);
      throw new LabError('bad-argument', `Unexpected argument "${a}"; flags look like --name value.`);
    }
    const eq = a.indexOf('=');
    const name = eq > 0 ? a.slice(2, eq) : a.slice(2);
    if (command) checkFlagName(command, name);
    const isBool = command !== undefined && isBooleanFlag(command, name);
    if (eq > 0) {
      const v = a.slice(eq + 1);
      if (isBool && v !== 'true' && v !== 'false') throw new LabError('bad-argument', `--${name} is on or off: give it alone, or as --${name}=true / --${name}=false; got "${v}".`);
      flags[name] = isBool ? v === 'true' : v;
    } else if (!isBool && i + 1 < args.length && !args[i + 1].startsWith('--')) {
      flags[name] = args[++i];
    } else {
      flags[name] = true;
    }
  }
  return flags;
}
