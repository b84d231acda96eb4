/**
 * A run read back from IndexedDB is untrusted: an older version of the lab, another tab, a
 * browser extension or a hand edit in devtools may have stored anything under the runs store.
 * One field of the wrong type (a latency stored as "12 ms") used to throw while the chart
 * rendered, on every load, until the site's data was cleared. So every stored record is checked
 * field by field before it reaches the page; a record that fails is set aside, with its reason.
 */
import type { Run } from './runs';

const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const show = (v: unknown): string => {
  if (typeof v === 'string') return `"${v.length > 40 ? `${v.slice(0, 40)}…` : v}"`;
  if (v === undefined) return 'missing';
  if (typeof v === 'number') return String(v);
  if (v === null) return 'null';
  return Array.isArray(v) ? 'a list' : typeof v;
};

type FieldCheck = [keyof Run, (v: unknown) => boolean, string];

const text = (v: unknown) => typeof v === 'string';
const textOrNull = (v: unknown) => v === null || typeof v === 'string';
const numOrNull = (v: unknown) => v === null || isNum(v);
const fraction = (v: unknown) => isNum(v) && v >= 0 && v <= 1;
const count = (v: unknown) => isNum(v) && v >= 0;
const optional = (f: (v: unknown) => boolean) => (v: unknown) => v === undefined || f(v);

const FIELDS: FieldCheck[] = [
  ['id', (v) => typeof v === 'string' && v.length > 0, 'a non-empty text'],
  ['createdAt', isNum, 'a time in milliseconds'],
  ['kind', (v) => v === 'baseline' || v === 'pruned' || v === 'fine-tuned', 'baseline, pruned or fine-tuned'],
  ['model', text, 'a text'],
  ['modelSource', text, 'a text'],
  ['dataset', text, 'a text'],
  ['backend', text, 'a text'],
  ['criterion', textOrNull, 'a text or null'],
  ['criterionName', textOrNull, 'a text or null'],
  ['strategy', textOrNull, 'a text or null'],
  ['rate', (v) => v === null || fraction(v), 'a fraction from 0 to 1, or null'],
  ['scope', textOrNull, 'a text or null'],
  ['ranking', textOrNull, 'a text or null'],
  ['macs', count, 'a number of MACs'],
  ['params', count, 'a number of parameters'],
  ['latencyMs', (v) => v === null || count(v), 'a number of milliseconds or null'],
  ['mAP', fraction, 'a fraction from 0 to 1'],
  ['rank1', fraction, 'a fraction from 0 to 1'],
  ['rank5', fraction, 'a fraction from 0 to 1'],
  ['fineTuneSteps', (v) => isNum(v) && Number.isInteger(v) && v >= 0, 'a whole number of steps'],
  ['ptl', optional((v) => typeof v === 'boolean'), 'true or false'],
  ['branchMacs', optional(numOrNull), 'a number or null'],
  ['branchParams', optional(numOrNull), 'a number or null'],
  ['source', optional((v) => v === 'card'), '"card" or nothing'],
];

/** Why a stored value is not a run the page can show ("latencyMs is "12 ms", not a number of milliseconds or null"), or null if it is one. */
export function runProblem(value: unknown): string | null {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return `it is ${show(value)}, not a run record`;
  const r = value as Record<string, unknown>;
  for (const [field, ok, want] of FIELDS) {
    if (!ok(r[field])) return `${field} is ${show(r[field])}, not ${want}`;
  }
  return null;
}

/** The notice for runs set aside on load (null when there were none). */
export function quarantineNotice(problems: { id: string; reason: string }[]): string | null {
  if (problems.length === 0) return null;
  const [first] = problems;
  const n = problems.length;
  return (
    `${n} stored run${n === 1 ? '' : 's'} from an earlier visit could not be read and ${n === 1 ? 'was' : 'were'} set aside ` +
    `(run ${first.id}: ${first.reason}${n > 1 ? '; …' : ''}); the other runs are shown. ` +
    'The records are kept in the browser\u2019s "runs-quarantine" store for inspection; Clear removes them.'
  );
}
