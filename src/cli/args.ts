/** Small typed helpers over node:util parseArgs values, with clear errors for bad flags. */
import { LabError } from '../engine/errors';

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
  return flags[name] === true || flags[name] === 'true';
}

export function oneOf<T extends string>(flags: Flags, name: string, allowed: readonly T[], fallback: T): T {
  const v = optStr(flags, name) ?? fallback;
  if (!allowed.includes(v as T)) throw new LabError('bad-argument', `--${name} must be one of ${allowed.join(', ')}; got "${v}".`);
  return v as T;
}

/**
 * `--key value`, `--key=value` and bare `--flag` (true). Written by hand because
 * node:util parseArgs needs every option declared up front, and commands own their flags.
 */
export function parseFlags(args: readonly string[]): Flags {
  const flags: Flags = {};
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (!a.startsWith('--')) throw new LabError('bad-argument', `Unexpected argument "${a}"; flags look like --name value.`);
    const eq = a.indexOf('=');
    if (eq > 0) {
      flags[a.slice(2, eq)] = a.slice(eq + 1);
    } else if (i + 1 < args.length && !args[i + 1].startsWith('--')) {
      flags[a.slice(2)] = args[++i];
    } else {
      flags[a.slice(2)] = true;
    }
  }
  return flags;
}
