/**
 * Every flag each `lab` command takes, so a mistyped flag (--finetune-step) is an error naming
 * the closest real one instead of being ignored. Boolean flags never take the next argument as
 * their value. Keep in step with the commands and the usage text in lab.ts.
 */
import { LabError } from '../engine/errors';
import { closest } from './closest';

export interface CommandFlags {
  /** Flags that take a value. */
  value: readonly string[];
  /** Flags that are on when present (--json); `--json=false` is accepted too. */
  boolean: readonly string[];
}

/** Flags every command takes. */
const COMMON = ['backend'];
/** resolveDataset (src/cli/data.ts). */
const DATA = ['data', 'test-ids', 'seed', 'tier', 'domain', 'shift', 'data-seed'];
/** fineTuneData and fineTuneConfig (commands/finetune.ts). */
const FINE_TUNE = [...DATA, 'ids', 'images-per-id', 'eval-ids', 'p', 'k', 'lr', 'train-from-stage'];
/** Opening --model (a folder, model.json, .safetensors or .onnx). */
const MODEL = ['model', 'last-stride'];

export const COMMAND_FLAGS: Readonly<Record<string, CommandFlags>> = {
  generate: { value: ['tier', 'domain', 'shift', 'data-seed', 'format', 'height', 'img-width', 'quality', 'out'], boolean: [] },
  train: {
    value: [...DATA, 'depth', 'width', 'height', 'img-width', 'steps', 'p', 'k', 'lr', 'warmup', 'out', 'run-dir', 'checkpoint-every', 'time-budget', 'resume-from'],
    boolean: ['resume'],
  },
  eval: { value: [...MODEL, ...DATA, 'metric', 'quick-ids'], boolean: ['flip', 'json', 'normalize', 'quick'] },
  info: { value: MODEL, boolean: ['layers', 'json'] },
  prune: {
    value: [...MODEL, ...FINE_TUNE, 'criterion', 'criterion-batch-size', 'criterion-batches', 'epochs', 'finetune-steps', 'macs-target', 'ranking', 'rate', 'rounds', 'scope', 'strategy', 'out'],
    boolean: ['no-eval', 'force'],
  },
  finetune: { value: [...MODEL, ...FINE_TUNE, 'steps', 'out'], boolean: ['no-eval', 'ptl', 'force'] },
  scenario: { value: [...MODEL, ...FINE_TUNE, 'scenario', 'method', 'small', 'macs-target', 'steps', 'scope', 'ranking', 'criterion-batches'], boolean: ['json'] },
  reproduce: {
    value: ['cache', 'charts', 'compare', 'eval-ids', 'ids', 'images-per-id', 'json-out', 'k', 'out', 'p', 'plan', 'reading', 'regime', 'rows', 'seeds', 'steps', 'sweep', 'tier', 'zoo'],
    boolean: ['quick', 'from-cache'],
  },
  card: { value: [...MODEL, 'notes', 'lineage'], boolean: ['m-target'] },
  export: { value: [...MODEL, 'format', 'dtype', 'out'], boolean: ['force'] },
};

function known(command: string): CommandFlags {
  const c = COMMAND_FLAGS[command];
  return { value: [...new Set([...COMMON, ...c.value])], boolean: c.boolean };
}

export function isBooleanFlag(command: string, name: string): boolean {
  return COMMAND_FLAGS[command]?.boolean.includes(name) ?? false;
}

/** Throws a LabError naming the closest valid flag when `name` is not one of the command's. */
export function checkFlagName(command: string, name: string): void {
  const k = known(command);
  const all = [...k.value, ...k.boolean];
  if (all.includes(name)) return;
  const near = closest(name, all);
  throw new LabError(
    'bad-argument',
    `Unknown flag --${name} for "${command}"${near ? `; did you mean --${near}?` : '.'} (\`npm run lab -- help\` lists every command's flags.)`,
    { flag: name, suggestion: near },
  );
}
