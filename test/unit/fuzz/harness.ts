/**
 * Runs fuzz cases and sorts their outcomes. A case passes when it ends in
 *   - a LabError with a readable message (non-empty, no "[object Object]" or "undefined"
 *     placeholders), or
 *   - a load the case itself verifies (the runner returns the name of the verified outcome),
 * within its time limit, with tf.memory().numTensors back at its value before the case (the
 * runner disposes what a successful load created). Anything else (a TypeError or RangeError
 * escaping, a hang, a leak, an unverified load) is recorded as a failure with the case's
 * label, so a failing case can be replayed from its seed.
 *
 * Per-case time limit: asynchronous hangs are cut by a timer; a synchronous loop cannot be
 * interrupted in-thread, so every case's wall time is also checked after the fact.
 */
import * as tf from '@tensorflow/tfjs';
import { isLabError, type LabError } from '../../../src/engine/errors';

export interface Tally {
  kind: string;
  cases: number;
  /** LabError outcomes by code. */
  errors: Record<string, number>;
  /** Verified successful loads by outcome name. */
  loaded: Record<string, number>;
  /** Mutation op -> count, for the report. */
  ops: Record<string, number>;
  failures: string[];
  slowestMs: number;
}

export function newTally(kind: string): Tally {
  return { kind, cases: 0, errors: {}, loaded: {}, ops: {}, failures: [], slowestMs: 0 };
}

const bump = (r: Record<string, number>, k: string) => (r[k] = (r[k] ?? 0) + 1);

export function readableMessage(m: unknown): boolean {
  return typeof m === 'string' && m.trim().length >= 10 && !m.includes('[object Object]') && !/\bundefined\b/.test(m);
}

export interface CaseOptions {
  timeoutMs?: number;
  /** Finer outcome name for a LabError (default: its code). */
  classify?: (e: LabError) => string;
}

/**
 * Run one case. `run` returns the name of a verified successful outcome, or throws. It must
 * throw (not return) when its own verification of a load fails.
 */
export async function fuzzCase(t: Tally, label: string, op: string, run: () => Promise<string> | string, opts: CaseOptions = {}): Promise<void> {
  const limit = opts.timeoutMs ?? 3000;
  t.cases++;
  bump(t.ops, op);
  const before = tf.memory().numTensors;
  const t0 = performance.now();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new HangError(`no result after ${limit} ms`)), limit);
  });
  try {
    const outcome = await Promise.race([Promise.resolve().then(run), timeout]);
    bump(t.loaded, outcome);
  } catch (e) {
    if (e instanceof HangError) t.failures.push(`${label} [${op}]: hang (${e.message})`);
    else if (e instanceof VerificationError) t.failures.push(`${label} [${op}]: loaded but wrong: ${e.message}`);
    else if (isLabError(e)) {
      if (readableMessage(e.message)) bump(t.errors, opts.classify?.(e) ?? e.code);
      else t.failures.push(`${label} [${op}]: LabError ${e.code} with an unreadable message: ${JSON.stringify(e.message)}`);
    } else {
      const err = e as Error;
      t.failures.push(`${label} [${op}]: ${err?.name ?? typeof e} escaped: ${err?.message ?? String(e)}\n${(err?.stack ?? '').split('\n').slice(1, 4).join('\n')}`);
    }
  } finally {
    clearTimeout(timer);
  }
  const ms = performance.now() - t0;
  t.slowestMs = Math.max(t.slowestMs, ms);
  if (ms > limit) t.failures.push(`${label} [${op}]: took ${ms.toFixed(0)} ms (limit ${limit} ms)`);
  const after = tf.memory().numTensors;
  if (after !== before) t.failures.push(`${label} [${op}]: tensors ${before} -> ${after} (leak or dispose of a tensor it did not own)`);
}

class HangError extends Error {}

/** Thrown by a case runner whose load succeeded but did not check out. */
export class VerificationError extends Error {
  override name = 'VerificationError';
}

export function verify(cond: unknown, message: string): asserts cond {
  if (!cond) throw new VerificationError(message);
}

/** One line per tally for the report (docs/RELIABILITY.md quotes these). */
export function summarize(t: Tally): string {
  const fmt = (r: Record<string, number>) => Object.entries(r).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v}`).join(', ') || 'none';
  return `${t.kind}: ${t.cases} cases; LabError: ${fmt(t.errors)}; verified loads: ${fmt(t.loaded)}; failures ${t.failures.length}; slowest ${t.slowestMs.toFixed(0)} ms`;
}
