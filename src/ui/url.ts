/**
 * The page's URL is its shareable state: backend, model, dataset (tier, domain, shift, seed),
 * fine-tuning subset, pruning and fine-tuning settings with their seeds, chart choices and
 * presenter mode. A presenter bookmarks exactly the set-up they rehearsed; a reviewer opens a
 * colleague's link and gets the same numbers. Unknown or out-of-range values fall back to the
 * default with a sentence, never a broken page.
 */
import { MAX_WASM_THREADS, isBackendChoice, type BackendChoice, type StrategyId } from '../workers/api';

export interface LabConfig {
  backend: BackendChoice;
  /** wasm threads; undefined = one per core (the worker's default). */
  threads?: number;
  /** Zoo model name; undefined = the default (ResNet-50, width 0.5). */
  model?: string;
  tier: 'XS' | 'S';
  domain: 'source' | 'target';
  shift: number;
  dataSeed: number;
  ftIds: number;
  ftPerId: number;
  ftSeed: number;
  criterion: string;
  targetKind: 'rate' | 'macs';
  /** Fraction of channels removed (rate target). */
  rate: number;
  /** Fraction of the MACs kept (MACs target). */
  macsKeep: number;
  scope: 'inner' | 'inner+trunk';
  ranking: 'local' | 'global';
  strategy: StrategyId;
  pruneSeed: number;
  steps: number;
  lr: number;
  trainSeed: number;
  /** Fine-tune with PTL's side branch (BConv-Cells). */
  ptl: boolean;
  /** PTL cell channels / stage channels; undefined = the engine's default. */
  ptlRatio?: number;
  /** PTL joins the last stage or every stage; undefined = the engine's default. */
  ptlFuse?: 'last' | 'every';
  /** Fine-tune from this stage on (1-4; the stem and earlier stages frozen); 0 = everything. */
  trainFrom: number;
  /** Recalibrate BatchNorm statistics (forward only) before fine-tuning. */
  bnRecal: boolean;
  /** Recalibrate BatchNorm statistics right after pruning (prune and recover in one click). */
  pruneBn: boolean;
  /** Sensitivity scan: rates as "0.25,0.5,0.75", the query and test-identity limits (0 = all). */
  sensRates: string;
  sensQueries: number;
  sensIds: number;
  metric: 'mAP' | 'rank1';
  xAxis: 'macs' | 'params' | 'latency';
  paper: boolean;
  present: boolean;
}

export const DEFAULT_CONFIG: LabConfig = {
  backend: 'auto',
  tier: 'S',
  domain: 'target',
  shift: 1,
  dataSeed: 1501,
  ftIds: 8,
  ftPerId: 4,
  ftSeed: 1,
  criterion: 'l1',
  targetKind: 'rate',
  rate: 0.5,
  macsKeep: 0.5,
  scope: 'inner',
  ranking: 'local',
  strategy: 'once',
  pruneSeed: 1,
  steps: 20,
  lr: 1e-4,
  trainSeed: 1,
  ptl: false,
  trainFrom: 0,
  bnRecal: false,
  pruneBn: false,
  sensRates: '0.25,0.5,0.75',
  // 25 test identities: ~12 s per evaluation for ResNet-50 x0.5 on SynthReID-S in Node (~90 s on all).
  sensQueries: 0,
  sensIds: 25,
  metric: 'mAP',
  xAxis: 'macs',
  paper: true,
  present: false,
};

/** URL key per field (short, stable: shared links must keep working). */
const KEYS: Record<keyof LabConfig, string> = {
  backend: 'backend',
  threads: 'threads',
  model: 'model',
  tier: 'tier',
  domain: 'domain',
  shift: 'shift',
  dataSeed: 'dseed',
  ftIds: 'ftids',
  ftPerId: 'ftper',
  ftSeed: 'ftseed',
  criterion: 'crit',
  targetKind: 'target',
  rate: 'rate',
  macsKeep: 'macs',
  scope: 'scope',
  ranking: 'rank',
  strategy: 'strategy',
  pruneSeed: 'pseed',
  steps: 'steps',
  lr: 'lr',
  trainSeed: 'tseed',
  ptl: 'ptl',
  ptlRatio: 'ptlr',
  ptlFuse: 'ptlf',
  trainFrom: 'tfrom',
  bnRecal: 'bnrecal',
  pruneBn: 'pbn',
  sensRates: 'srates',
  sensQueries: 'sq',
  sensIds: 'sids',
  metric: 'metric',
  xAxis: 'x',
  paper: 'paper',
  present: 'present',
};

type Check = (raw: string) => unknown;
const oneOf = (...xs: string[]): Check => (r) => (xs.includes(r) ? r : undefined);
const num = (lo: number, hi: number, int = false): Check => (r) => {
  const v = Number(r);
  return r.trim() !== '' && Number.isFinite(v) && v >= lo && v <= hi && (!int || Number.isInteger(v)) ? v : undefined;
};
const bool: Check = (r) => (r === '1' || r === 'true' ? true : r === '0' || r === 'false' ? false : undefined);

const CHECKS: Record<keyof LabConfig, Check> = {
  backend: (r) => (isBackendChoice(r) ? r : undefined),
  threads: num(1, MAX_WASM_THREADS, true),
  model: (r) => (/^[A-Za-z0-9._-]{1,80}$/.test(r) ? r : undefined),
  tier: oneOf('XS', 'S'),
  domain: oneOf('source', 'target'),
  shift: num(0, 1),
  dataSeed: num(0, 0xffffffff, true),
  ftIds: num(2, 1000, true),
  ftPerId: num(2, 100, true),
  ftSeed: num(0, 0xffffffff, true),
  criterion: (r) => (/^[a-z0-9-]{1,40}$/.test(r) ? r : undefined),
  targetKind: oneOf('rate', 'macs'),
  rate: num(0, 0.95),
  macsKeep: num(0.05, 1),
  scope: oneOf('inner', 'inner+trunk'),
  ranking: oneOf('local', 'global'),
  strategy: oneOf('once', 'iterative', 'soft'),
  pruneSeed: num(0, 0xffffffff, true),
  steps: num(1, 100000, true),
  lr: num(1e-7, 0.5),
  trainSeed: num(0, 0xffffffff, true),
  ptl: bool,
  ptlRatio: num(0.01, 4),
  ptlFuse: oneOf('last', 'every'),
  trainFrom: num(0, 4, true),
  bnRecal: bool,
  pruneBn: bool,
  sensRates: (r) => (parseRates(r) ? r : undefined),
  sensQueries: num(0, 1_000_000, true),
  sensIds: (r) => { const v = num(0, 1_000_000, true)(r); return v === 1 ? undefined : v; },
  metric: oneOf('mAP', 'rank1'),
  xAxis: oneOf('macs', 'params', 'latency'),
  paper: bool,
  present: bool,
};

/** "0.25,0.5" -> [0.25, 0.5]: 1 to 10 distinct rates, each above 0 and below 1; null otherwise. */
export function parseRates(raw: string): number[] | null {
  const parts = raw.split(',').map((x) => x.trim());
  const rates = parts.map(Number);
  const ok = parts.length >= 1 && parts.length <= 10 && parts.every((p) => p !== '') && rates.every((v) => v > 0 && v < 1) && new Set(rates).size === rates.length;
  return ok ? rates : null;
}

export interface ParsedConfig {
  config: LabConfig;
  /** One sentence per value that was not understood. */
  problems: string[];
}

/** The sentence for a value in the address the lab does not understand (it then uses the default). */
export function badValueSentence(field: keyof LabConfig, raw: string): string {
  return `The address sets ${KEYS[field]}="${raw}", which the lab does not understand; it uses ${String(DEFAULT_CONFIG[field] ?? 'the default')} instead.`;
}

/**
 * The criterion named in the address, checked against the criteria the worker offers (known only
 * once it answers): an unknown one becomes the default, with the same sentence as any bad value.
 */
export function checkCriterion(config: LabConfig, known: readonly string[]): { criterion: string; problem?: string } {
  if (known.length === 0 || known.includes(config.criterion)) return { criterion: config.criterion };
  return { criterion: DEFAULT_CONFIG.criterion, problem: badValueSentence('criterion', config.criterion) };
}

export function readConfig(search: string = window.location.search): ParsedConfig {
  const q = new URLSearchParams(search);
  const config: LabConfig = { ...DEFAULT_CONFIG };
  const problems: string[] = [];
  for (const field of Object.keys(KEYS) as (keyof LabConfig)[]) {
    const raw = q.get(KEYS[field]);
    if (raw === null || raw === '') continue;
    const v = CHECKS[field](raw);
    if (v === undefined) {
      if (field === 'backend') {
        problems.push(`The address asks for backend "${raw}", which the lab does not know; it uses "auto" (choices: auto, webgpu, wasm, webgl, cpu).`);
      } else {
        problems.push(badValueSentence(field, raw));
      }
      continue;
    }
    (config as unknown as Record<string, unknown>)[field] = v;
  }
  return { config, problems };
}

/** The query string for a configuration: only values that differ from the defaults. */
export function configQuery(config: LabConfig): string {
  const q = new URLSearchParams();
  for (const field of Object.keys(KEYS) as (keyof LabConfig)[]) {
    const v = config[field];
    if (v === undefined || v === DEFAULT_CONFIG[field]) continue;
    q.set(KEYS[field], typeof v === 'boolean' ? (v ? '1' : '0') : String(v));
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}

/** Record the configuration in the address bar without reloading. */
export function writeConfig(config: LabConfig): void {
  const url = new URL(window.location.href);
  url.search = configQuery(config);
  window.history.replaceState(null, '', url);
}

// Phase-1 entry points, kept for callers that only care about backend and model.
export interface PageParams {
  backend: BackendChoice;
  badBackend?: string;
  model?: string;
}

export function readParams(search: string = window.location.search): PageParams {
  const q = new URLSearchParams(search);
  const raw = q.get('backend');
  const model = q.get('model') ?? undefined;
  if (raw === null || raw === '') return { backend: 'auto', model };
  if (isBackendChoice(raw)) return { backend: raw, model };
  return { backend: 'auto', badBackend: raw, model };
}
