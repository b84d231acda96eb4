/**
 * Where a model file says it came from: the PyTorch companion (python/prunability_torch) writes
 * a `prunability-lab.lineage` record into the safetensors metadata (engine, what it did, steps,
 * data, processes). The lab shows it as one sentence next to the model, so a model fine-tuned
 * outside the browser is never mistaken for the zoo's own.
 */
export const LINEAGE_METADATA_KEY = 'prunability-lab.lineage';

export interface ExternalLineage {
  engine: string;
  /** "train", "finetune" or "apply-plan". */
  kind: string;
  steps?: number;
  data?: string;
  processes?: number;
  criterion?: string;
  /** The record of the model this one was made from, if the file carried one. */
  previous?: ExternalLineage | null;
}

const ENGINES: Record<string, string> = { pytorch: 'PyTorch' };

/** The record in a file's metadata, or undefined when there is none or it is not readable. */
export function parseLineage(metadata: Readonly<Record<string, string>> | undefined): ExternalLineage | undefined {
  const text = metadata?.[LINEAGE_METADATA_KEY];
  if (!text) return undefined;
  try {
    const v = JSON.parse(text) as unknown;
    if (v && typeof v === 'object' && typeof (v as ExternalLineage).engine === 'string' && typeof (v as ExternalLineage).kind === 'string') {
      return v as ExternalLineage;
    }
  } catch {
    // An unreadable record is shown as nothing rather than guessed at.
  }
  return undefined;
}

/** "fine-tuned in PyTorch, 100 steps on SynthReID XS (2 processes)". */
export function describeExternalLineage(l: ExternalLineage): string {
  const engine = ENGINES[l.engine] ?? l.engine;
  const steps = typeof l.steps === 'number' ? `, ${l.steps} steps` : '';
  const data = l.data ? ` on ${l.data}` : '';
  const procs = typeof l.processes === 'number' && l.processes > 1 ? ` (${l.processes} processes)` : '';
  const what = l.kind === 'finetune' ? 'fine-tuned' : l.kind === 'train' ? 'trained' : l.kind === 'apply-plan' ? 'pruned with a lab plan' : l.kind;
  const now = `${what} in ${engine}${steps}${data}${procs}`;
  const before = l.previous && typeof l.previous === 'object' && typeof l.previous.kind === 'string' ? `; before that ${describeExternalLineage(l.previous)}` : '';
  return now + before;
}

/** The chain of records, oldest first (pre-training, then source training, ...), each without its `previous`. */
export function lineagePhases(l: ExternalLineage): Omit<ExternalLineage, 'previous'>[] {
  const out: Omit<ExternalLineage, 'previous'>[] = [];
  for (let cur: ExternalLineage | null | undefined = l; cur && typeof cur === 'object'; cur = cur.previous) {
    const { previous: _previous, ...rest } = cur;
    out.unshift(rest);
  }
  return out;
}
