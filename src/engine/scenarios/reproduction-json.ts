/**
 * A reproduction's results as a small JSON file (`lab reproduce --json-out public/reproduction.json`),
 * so the lab page can show a committed full run next to the paper without running it: per-row
 * statistics, the verdicts with their evidence, and what a reader needs to judge them (date,
 * machine, command, seeds, budget). JSON has no NaN: a row that did not run stores null means.
 * Plain data only (no tfjs), so the page can read it.
 */
import { LabError } from '../errors';
import type { FineTuneBudget } from './budget';
import type { ClaimVerdict, RowSummary, Stat, VerdictKind } from './report';
import type { ReproduceRow } from './reproduce-plan';
import { SCENARIO_NUMBER } from './types';

export const REPRODUCTION_FORMAT = 'prunability-lab/reproduction@1';

export interface ReproductionRecord {
  format: typeof REPRODUCTION_FORMAT;
  /** ISO date (YYYY-MM-DD) the report was made. */
  date: string;
  machine: string;
  command: string;
  quick: boolean;
  tier: 'XS' | 'S';
  seeds: number[];
  budget: FineTuneBudget;
  /** Share of ResNet-50's MACs the pruned rows keep (ResNet-18's MACs). */
  macsKeep: number;
  /** Minutes of new runs behind this report (cached cells excluded). */
  wallSeconds: number;
  setup: string[];
  notes: string[];
  rows: RowSummary[];
  verdicts: ClaimVerdict[];
}

/** Stat means of rows that did not run are NaN; JSON writes them as null. */
export function reproductionToJson(r: ReproductionRecord): string {
  return JSON.stringify(r, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2) + '\n';
}

const VERDICTS: readonly VerdictKind[] = ['holds', 'does not hold', 'inconclusive'];

function fail(what: string): never {
  throw new LabError('bad-argument', `The reproduction results file is not one the lab can read: ${what}.`);
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function numOrNaN(v: unknown, where: string): number {
  if (v === null) return NaN;
  if (typeof v !== 'number') fail(`${where} should be a number, found ${JSON.stringify(v)}`);
  return v;
}

function statOf(v: unknown, where: string): Stat {
  if (!isObj(v)) fail(`${where} should be {mean, std, n}`);
  return { mean: numOrNaN(v.mean, `${where}.mean`), std: numOrNaN(v.std, `${where}.std`), n: numOrNaN(v.n, `${where}.n`) };
}

function strings(v: unknown, where: string): string[] {
  if (!Array.isArray(v) || v.some((s) => typeof s !== 'string')) fail(`${where} should be a list of sentences`);
  return v as string[];
}

function rowOf(v: unknown, i: number): RowSummary {
  const w = `row ${i + 1}`;
  if (!isObj(v) || !isObj(v.row) || typeof v.row.id !== 'string' || typeof v.row.label !== 'string') fail(`${w} has no row id and label`);
  if (typeof v.row.scenario !== 'string' || !(v.row.scenario in SCENARIO_NUMBER)) fail(`${w} names no known scenario (${JSON.stringify(v.row.scenario)})`);
  if (!isObj(v.before) || !isObj(v.after)) fail(`${w} has no before/after statistics`);
  const seen = Array.isArray(v.imagesSeen) ? v.imagesSeen.map((x, j) => numOrNaN(x, `${w}.imagesSeen[${j}]`)) : fail(`${w}.imagesSeen should be a list`);
  return {
    row: v.row as unknown as ReproduceRow,
    n: numOrNaN(v.n, `${w}.n`),
    macs: statOf(v.macs, `${w}.macs`),
    params: statOf(v.params, `${w}.params`),
    before: { mAP: statOf(v.before.mAP, `${w}.before.mAP`), rank1: statOf(v.before.rank1, `${w}.before.rank1`) },
    after: { mAP: statOf(v.after.mAP, `${w}.after.mAP`), rank1: statOf(v.after.rank1, `${w}.after.rank1`), rank5: statOf(v.after.rank5, `${w}.after.rank5`) },
    imagesSeen: seen,
    seconds: statOf(v.seconds, `${w}.seconds`),
  };
}

/** Read and check a results file's text; a clear LabError if it is not one. */
export function parseReproduction(text: string): ReproductionRecord {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    fail(`it is not JSON (${(e as Error).message})`);
  }
  if (!isObj(v)) fail('it is not a JSON object');
  if (v.format !== REPRODUCTION_FORMAT) fail(`its format is ${JSON.stringify(v.format)}, expected "${REPRODUCTION_FORMAT}"`);
  if (typeof v.date !== 'string' || typeof v.machine !== 'string' || typeof v.command !== 'string') fail('date, machine or command is missing');
  if (!Array.isArray(v.seeds) || v.seeds.some((s) => typeof s !== 'number')) fail('seeds should be a list of numbers');
  if (!Array.isArray(v.rows)) fail('rows should be a list');
  if (!Array.isArray(v.verdicts)) fail('verdicts should be a list');
  if (!isObj(v.budget)) fail('budget is missing');
  const verdicts = v.verdicts.map((x, i): ClaimVerdict => {
    if (!isObj(x) || typeof x.claim !== 'string' || typeof x.headline !== 'string' || !VERDICTS.includes(x.verdict as VerdictKind)) fail(`verdict ${i + 1} needs a claim, a headline and one of ${VERDICTS.join(', ')}`);
    return { claim: x.claim, verdict: x.verdict as VerdictKind, headline: x.headline, evidence: strings(x.evidence, `verdict ${i + 1}.evidence`) };
  });
  return {
    format: REPRODUCTION_FORMAT,
    date: v.date,
    machine: v.machine,
    command: v.command,
    quick: v.quick === true,
    tier: v.tier === 'XS' ? 'XS' : 'S',
    seeds: v.seeds as number[],
    budget: v.budget as unknown as FineTuneBudget,
    macsKeep: numOrNaN(v.macsKeep ?? null, 'macsKeep'),
    wallSeconds: numOrNaN(v.wallSeconds ?? null, 'wallSeconds'),
    setup: strings(v.setup ?? [], 'setup'),
    notes: strings(v.notes ?? [], 'notes'),
    rows: v.rows.map(rowOf),
    verdicts,
  };
}
