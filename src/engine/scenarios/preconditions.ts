/**
 * The preconditions the paper's claims rest on, checked with numbers before any verdict is read:
 * - the larger dense model is the stronger one (the paper's ResNet-50 beats its ResNet-18 on
 *   Market-1501: rank-1 85.07 vs 81.18), before and after the same fine-tuning;
 * - how far the cut alone (pruning to ResNet-18's MACs, no fine-tuning) drops accuracy;
 * - the fine-tuning budget relative to the training the zoo models had.
 * The first is judged with the verdict rule of report.ts (held / failed / unknown); the other two
 * are stated, not judged: the paper gives no threshold for them.
 */
import type { CutResult } from './reproduce';
import type { ZooDepth } from './reproduce-plan';
import { verdictBetter, type RowSummary, type Stat } from './report';

export type PreconditionStatus = 'held' | 'failed' | 'unknown' | 'stated';

export interface Precondition {
  id: string;
  /** What must be true, as a sentence. */
  text: string;
  status: PreconditionStatus;
  /** The numbers behind the status, one sentence each. */
  evidence: string[];
  /** Claims (1-based) that rest on it. */
  claims: number[];
}

export interface PreconditionInput {
  rows: readonly RowSummary[];
  cuts: readonly CutResult[];
  /** Images each zoo model saw in training (all phases), from its card; absent when unknown. */
  trainingImages: Partial<Record<ZooDepth, number>>;
  /** Images seen in one cell's fine-tuning (the equal budget). */
  fineTuneImages: number;
}

const f1 = (v: number) => v.toFixed(1);
const pm = (s: Stat) => (s.n > 1 ? `${f1(s.mean)} ± ${f1(s.std)}` : f1(s.mean));

function row(rows: readonly RowSummary[], id: string): RowSummary | undefined {
  const r = rows.find((x) => x.row.id === id);
  return r && r.n > 0 ? r : undefined;
}

/** Is the dense `large` model stronger than the dense `small` one, after the same fine-tuning? */
function largerStronger(rows: readonly RowSummary[], large: 'resnet50' | 'resnet34', claims: number[]): Precondition {
  const depth = large === 'resnet50' ? 50 : 34;
  const text = `Dense ResNet-${depth} is stronger than dense ResNet-18 on the target (rank-1 after the same fine-tuning).`;
  const a = row(rows, large);
  const b = row(rows, 'resnet18');
  if (!a || !b) return { id: `${large}-stronger`, text, status: 'unknown', evidence: [`Not measured: ${!a ? `ResNet-${depth}` : 'ResNet-18'} fine-tuned has not run.`], claims };
  const after = verdictBetter(a.after.rank1, b.after.rank1);
  // Every seed starts from the same zoo model, so "before" has no spread: its difference is exact.
  const before = a.before.rank1.mean - b.before.rank1.mean;
  const status: PreconditionStatus = after.verdict === 'holds' ? 'held' : after.verdict === 'does not hold' ? 'failed' : 'unknown';
  return {
    id: `${large}-stronger`,
    text,
    status,
    evidence: [
      `Before fine-tuning (the zoo models): rank-1 ${f1(a.before.rank1.mean)} vs ${f1(b.before.rank1.mean)} (${before >= 0 ? 'ahead' : 'behind'} by ${f1(Math.abs(before))} pp), mAP ${f1(a.before.mAP.mean)} vs ${f1(b.before.mAP.mean)}.`,
      `After the same fine-tuning: rank-1 ${pm(a.after.rank1)} vs ${pm(b.after.rank1)}: ${after.reason}.`,
    ],
    claims,
  };
}

function cutDrop(cuts: readonly CutResult[]): Precondition {
  const text = "How far the cut alone (pruning to ResNet-18's MACs, no fine-tuning) drops accuracy.";
  if (cuts.length === 0) return { id: 'cut-drop', text, status: 'unknown', evidence: ['Not measured in this report.'], claims: [1, 2] };
  return {
    id: 'cut-drop',
    text,
    status: 'stated',
    evidence: cuts.map(
      (c) =>
        `${c.label}: ResNet-${c.depth} rank-1 ${f1(100 * c.dense.rank1)} → ${f1(100 * c.cut.rank1)} (mAP ${f1(100 * c.dense.mAP)} → ${f1(100 * c.cut.mAP)}) at ${f1((100 * c.cut.macs) / c.dense.macs)}% of its MACs, pruned from the zoo model with seed ${c.seed}'s data, no fine-tuning.`,
    ),
    claims: [1, 2],
  };
}

function budgetShare(input: PreconditionInput): Precondition {
  const depths = ([18, 34, 50] as const).filter((d) => input.trainingImages[d] !== undefined);
  const text = 'The fine-tuning budget, relative to the training the zoo models had.';
  if (depths.length === 0) return { id: 'budget', text, status: 'unknown', evidence: ["The zoo models' cards do not say how many images they were trained on."], claims: [1, 2, 3] };
  const parts = depths.map((d) => {
    const n = input.trainingImages[d]!;
    return `ResNet-${d} ${n.toLocaleString('en-US')} (${((100 * input.fineTuneImages) / n).toFixed(2)}%)`;
  });
  return {
    id: 'budget',
    text,
    status: 'stated',
    evidence: [`Every cell fine-tunes on ${input.fineTuneImages.toLocaleString('en-US')} images; the zoo models were trained on: ${parts.join(', ')}.`],
    claims: [1, 2, 3],
  };
}

export function preconditions(input: PreconditionInput): Precondition[] {
  const out = [largerStronger(input.rows, 'resnet50', [1, 2]), cutDrop(input.cuts), budgetShare(input)];
  // The ResNet-34 pair (v2's plan) rests on its own "larger is stronger".
  if (input.rows.some((r) => r.row.depth === 34 && r.row.method && r.n > 0)) out.splice(1, 0, largerStronger(input.rows, 'resnet34', [2]));
  return out;
}

/**
 * Images a zoo model saw in training, from its card: the companion's phases (steps x P x K each;
 * micro-batches split a batch, they do not add images), or the lab trainer's steps x "P=8 x K=4".
 * Undefined when the card does not say.
 */
export function trainingImagesOf(card: unknown): number | undefined {
  const t = (card as { training?: unknown } | null)?.training as Record<string, unknown> | undefined;
  if (!t || typeof t !== 'object') return undefined;
  if (Array.isArray(t.phases)) {
    let n = 0;
    for (const p of t.phases as { steps?: unknown; config?: { p?: unknown; k?: unknown; micro_batches?: unknown } }[]) {
      const { steps } = p;
      const pk = [p.config?.p, p.config?.k];
      if (typeof steps !== 'number' || pk.some((v) => typeof v !== 'number')) return undefined;
      n += steps * (pk[0] as number) * (pk[1] as number);
    }
    return n;
  }
  const m = typeof t.batch === 'string' ? /P=(\d+) x K=(\d+)/.exec(t.batch) : null;
  if (typeof t.steps === 'number' && m) return t.steps * Number(m[1]) * Number(m[2]);
  return undefined;
}

const STATUS_TEXT: Record<PreconditionStatus, string> = { held: 'held', failed: 'failed', unknown: 'not known', stated: 'measured' };
const STATUS_HEAD: Record<PreconditionStatus, string> = { held: 'HELD', failed: 'FAILED', unknown: 'NOT KNOWN', stated: 'MEASURED (no pass or fail: the paper gives no threshold)' };

/** "Rests on: ..." for claim `n` (1-based): each precondition it rests on, with its status. */
export function restsOn(all: readonly Precondition[], n: number): string {
  const mine = all.filter((p) => p.claims.includes(n));
  return mine.map((p) => `${p.text.replace(/\.$/, '')} (${STATUS_TEXT[p.status]})`).join('; ');
}

export function renderPreconditions(all: readonly Precondition[]): string {
  const lines: string[] = [];
  for (const p of all) {
    lines.push(`- **${p.text}** ${STATUS_HEAD[p.status]}; claims ${p.claims.join(', ')} rest on it.`);
    for (const e of p.evidence) lines.push(`  - ${e}`);
  }
  return lines.join('\n');
}
