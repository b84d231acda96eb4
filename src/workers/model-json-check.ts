/**
 * The files a user picks to open, checked before any loader sees them, so every mistake is a
 * sentence naming the file and what to do. tfjs's browserFiles reads model.json in a FileReader
 * callback: a `null` model.json threw there ("Cannot read properties of null (reading 'paths')")
 * and killed the worker, and a model.json picked without its .bin came back as 'format is
 * "undefined"'. Also: what a .safetensors header says about the last stride, which the weights
 * cannot tell (the page asks when the file is silent).
 */
import { LabError } from '../engine/errors';
import { MODEL_FORMAT } from '../engine/model/weights-io';
import { PLAN_JSON_FORMAT } from '../engine/prune/plan-json';
import { SPEC_METADATA_KEY } from '../engine/model/state-dict';

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'string') return 'a text';
  return typeof v === 'object' ? 'an object' : `${typeof v} ${String(v)}`;
}

/** A parsed .json the user picked: a pruning plan, or a model.json (checked here, loaded by weights-io). */
export type PickedJson = { kind: 'plan' } | { kind: 'model' };

/**
 * Check a picked model.json (already parsed) against the other picked files. `others` are the
 * names of the files picked with it. Throws LabError('bad-model-file') with a sentence.
 */
export function checkPickedJson(value: unknown, name: string, others: string[]): PickedJson {
  const pick = 'pick the model.json the lab (or tfjs) wrote, together with its .bin weight files';
  if (!isObject(value)) {
    throw new LabError('bad-model-file', `${name} holds ${describe(value)}, not a model description (a JSON object with modelTopology and weightsManifest); ${pick}.`);
  }
  if (value.format === PLAN_JSON_FORMAT) return { kind: 'plan' };
  if (value.format !== MODEL_FORMAT) {
    const what = value.format === undefined ? 'has no "format" field' : `has format ${JSON.stringify(value.format)}`;
    throw new LabError(
      'bad-model-file',
      `${name} ${what}, so it is neither a Prunability Lab model (format "${MODEL_FORMAT}") nor a pruning plan ("${PLAN_JSON_FORMAT}"); open a model the lab exported, a .safetensors or .onnx ResNet, or a pruning plan JSON (docs/PRUNING_PLAN.md).`,
    );
  }
  const manifest = value.weightsManifest;
  if (!Array.isArray(manifest) || manifest.length === 0) {
    throw new LabError('bad-model-file', `${name} has no weightsManifest listing its weight files, so its weights cannot be found; ${pick}.`);
  }
  const wanted: string[] = [];
  for (const [i, group] of manifest.entries()) {
    const paths = isObject(group) ? group.paths : undefined;
    if (!Array.isArray(paths) || paths.length === 0 || !paths.every((p) => typeof p === 'string' && p.length > 0)) {
      throw new LabError('bad-model-file', `${name}: weightsManifest entry ${i + 1} has no list of weight file names ("paths"), so its weights cannot be found; ${pick}.`);
    }
    wanted.push(...(paths as string[]));
  }
  const picked = new Set(others);
  const missing = wanted.filter((p) => !picked.has(p.split('/').pop()!));
  if (missing.length > 0) {
    const list = missing.slice(0, 3).join(', ') + (missing.length > 3 ? ` and ${missing.length - 3} more` : '');
    throw new LabError(
      'bad-model-file',
      `${name} needs the weight file${missing.length === 1 ? '' : 's'} ${list}, which ${missing.length === 1 ? 'was' : 'were'} not picked; select ${name} together with all its .bin files (Ctrl- or Shift-click in the file dialog).`,
    );
  }
  return { kind: 'model' };
}

/** The __metadata__ of a .safetensors header (empty when absent or unreadable: the loader then says why). */
export function safetensorsMetadata(bytes: Uint8Array): Record<string, string> {
  if (bytes.length < 8) return {};
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
  if (!(n > 0 && 8 + n <= bytes.length)) return {};
  try {
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))) as unknown;
    const meta = isObject(header) ? header.__metadata__ : undefined;
    return isObject(meta) ? (meta as Record<string, string>) : {};
  } catch {
    return {};
  }
}

/** Whether a safetensors file's metadata states the last stride (the lab's spec, or a last_stride key). */
export function statesLastStride(meta: Record<string, string>): boolean {
  const spec = meta[SPEC_METADATA_KEY];
  if (typeof spec === 'string') {
    try {
      const s = JSON.parse(spec) as { lastStride?: unknown };
      if (s.lastStride === 1 || s.lastStride === 2) return true;
    } catch {
      // unreadable lab metadata: as if absent
    }
  }
  return meta.last_stride === '1' || meta.last_stride === '2';
}
