/**
 * Two regimes side by side (v1: the zoo trained from scratch on S source; v2: pre-trained, then
 * M source): the verdict of each claim in each regime with its headline numbers, and the dense
 * models' order, so a reader sees how much each verdict depends on the regime.
 */
import { cellCounts, type ReproductionRecord } from './reproduction-json';
import type { RowSummary } from './report';

function regimeName(r: ReproductionRecord): string {
  return r.regime?.id ?? 'v1';
}

const r1 = (rows: readonly RowSummary[], id: string) => {
  const x = rows.find((r) => r.row.id === id && r.n > 0);
  return x ? `${x.after.rank1.mean.toFixed(1)}${x.n > 1 ? ` ± ${x.after.rank1.std.toFixed(1)}` : ''}` : '—';
};

/** Markdown: claims x regimes (verdicts), then the headline rows' rank-1 per regime. */
export function renderRegimes(records: readonly ReproductionRecord[]): string {
  const head = `| | ${records.map((r) => `${regimeName(r)} (${r.date})`).join(' | ')} |`;
  const sep = `|---|${records.map(() => '---').join('|')}|`;
  const lines = [head, sep];
  const claims = records[0]?.verdicts.length ?? 0;
  for (let i = 0; i < claims; i++) lines.push(`| Claim ${i + 1} | ${records.map((r) => (r.verdicts[i] ? r.verdicts[i].verdict : '—')).join(' | ')} |`);
  for (const [id, label] of [['resnet50', 'ResNet-50, rank-1 after FT'], ['resnet34', 'ResNet-34, rank-1 after FT'], ['resnet18', 'ResNet-18, rank-1 after FT'], ['haoli', 'Hao Li (ResNet-50 at ResNet-18 MACs), rank-1'], ['molchanov', 'Molchanov (ResNet-50 at ResNet-18 MACs), rank-1'], ['molchanov-source', 'Molchanov pruned at the source, rank-1']] as const) {
    lines.push(`| ${label} | ${records.map((r) => r1(r.rows, id)).join(' | ')} |`);
  }
  lines.push(`| Cells run / planned | ${records.map((r) => { const c = cellCounts(r); return `${c.main.ran + c.sweep.ran} / ${c.main.planned + c.sweep.planned}`; }).join(' | ')} |`);
  const legend = records.map((r) => `- ${regimeName(r)}: ${(r.regime?.label ?? 'trained from scratch on SynthReID S source (150 identities)').replace(/^v\d+: /, '')}.`);
  return [lines.join('\n'), '', ...legend].join('\n');
}
