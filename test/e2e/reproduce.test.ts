/**
 * The Reproduce view in real Chromium, with tiny random models and SynthReID XS (`?repro=tiny`:
 * one seed, two fine-tuning steps) so a whole quick run takes seconds: the paper's Table 5 shows
 * every number exactly as shared/reference/paper-tables.json writes it; the quick run completes
 * with one lab row per planned row and a verdict per claim; a cancel leaves the panel usable and
 * the next run finishes the rest; after a reload the cells come back from IndexedDB; a committed
 * results file is shown by default, labelled with its date, machine and seeds.
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { QUICK_ROW_IDS, selectRows } from '../../src/engine/scenarios/reproduce-plan';
import { claimVerdicts, type RowSummary } from '../../src/engine/scenarios/report';
import { REPRODUCTION_FORMAT, reproductionToJson, reproductionsToJson, type ReproductionRecord } from '../../src/engine/scenarios/reproduction-json';
import { idle, openLab, screenshot, type LabPage, useLabServer } from './browser';

const QUERY = '?backend=wasm&model=tiny&tier=XS&repro=tiny';
const REF = resolve(import.meta.dirname, '../../../shared/reference/paper-tables.json');

const h = useLabServer();

const panel = (lab: LabPage) => lab.page.getByTestId('panel-reproduce');

/** Click "Run quick reproduction" once the lab is idle, and wait until the run ends. */
async function runQuick(lab: LabPage, timeout = 240_000): Promise<void> {
  await idle(lab, 180_000);
  await panel(lab).getByTestId('repro-run').click();
  await lab.page.getByTestId('repro-progress').waitFor({ state: 'visible' });
  await lab.page.getByTestId('repro-progress').waitFor({ state: 'detached', timeout });
}

async function labRows(lab: LabPage): Promise<{ id: string; state: string }[]> {
  return panel(lab)
    .getByTestId('repro-lab-row')
    .evaluateAll((els) => els.map((e) => ({ id: e.getAttribute('data-row') ?? '', state: e.getAttribute('data-state') ?? '' })));
}

describe('the Reproduce view', () => {
  it.skipIf(!existsSync(REF))('shows the paper table exactly as the reference file, runs the quick plan, and gives a verdict per claim', async () => {
    const lab = await openLab(h.lb, h.server.origin, QUERY);
    try {
      // Whatever results this build commits, this test starts from none (a 404, as a host gives).
      await lab.context.route('**/reproduction.json', (r) => r.fulfill({ status: 404, body: 'not found' }));
      await lab.page.reload();
      await panel(lab).getByTestId('repro-paper-row').first().waitFor();
      // The paper's numbers, as the reference file writes them (two decimals, text compared).
      const text = readFileSync(REF, 'utf8');
      const ref = JSON.parse(text) as { table5: [string, ...number[]][] };
      const raw = [...text.matchAll(/\["(\w+)",\s*([^\]]+)\]/g)].filter((m) => ref.table5.some((r) => r[0] === m[1]));
      expect(raw).toHaveLength(ref.table5.length);
      const shownRows = await panel(lab)
        .getByTestId('repro-paper-row')
        .evaluateAll((els) => els.map((e) => [e.getAttribute('data-network'), ...[...e.querySelectorAll('td')].map((td) => td.textContent)]));
      expect(shownRows).toEqual(raw.map((m) => [m[1], ...m[2].split(',').map((s) => s.trim())]));
      // No committed results: the panel says how to get some.
      expect(await panel(lab).getByTestId('repro-none').isVisible()).toBe(true);

      await runQuick(lab);
      expect(await lab.page.getByTestId('repro-source').getAttribute('data-kind')).toBe('local');
      const rows = await labRows(lab);
      expect(rows.map((r) => r.id)).toEqual([...selectRows(true).map((r) => r.id)]);
      expect(rows.map((r) => r.id).sort()).toEqual([...QUICK_ROW_IDS].sort());
      expect(rows.every((r) => r.state === 'ran')).toBe(true);
      // Our units in the lab table, never the paper's.
      const head = await panel(lab).getByTestId('repro-lab-table').locator('thead').textContent();
      expect(head).toContain('MACs');
      expect(head).not.toContain('GFLOPs');
      const verdicts = panel(lab).getByTestId('repro-verdict');
      expect(await verdicts.count()).toBe(3);
      for (const v of await verdicts.evaluateAll((els) => els.map((e) => ({ kind: e.getAttribute('data-verdict'), text: e.textContent ?? '' })))) {
        expect(['holds', 'does not hold', 'inconclusive']).toContain(v.kind);
        // One seed: the spread is unknown, so the engine says inconclusive and why.
        expect(v.kind).toBe('inconclusive');
        expect(v.text).toMatch(/Evidence \(\d+\)/);
      }
      const source = await panel(lab).getByTestId('repro-source').textContent();
      expect(source).toContain('6 cell(s) run now, 0 reused');
      console.info(`quick run, tiny models: ${source}`);
      await screenshot(lab.page, 'reproduce-quick');
      expect(lab.errors).toEqual([]);
    } finally {
      await lab.close();
    }
  });

  it('cancel leaves the panel usable; the next run finishes the rest; a reload reuses every cell; 3 seeds add two', async () => {
    const lab = await openLab(h.lb, h.server.origin, QUERY);
    try {
      await idle(lab, 180_000);
      await panel(lab).getByTestId('repro-run').click();
      // Cancel once the cells are running (cell i of n is shown).
      await expect.poll(() => lab.page.getByTestId('repro-cell').textContent(), { timeout: 120_000, interval: 100 }).toMatch(/^Cell \d+ of 6$/);
      expect(await lab.page.getByTestId('repro-eta').textContent()).toMatch(/^(about \d+ (s|min) left|estimating time left…)$/);
      await lab.page.getByTestId('repro-cancel').click();
      await lab.page.getByTestId('repro-progress').waitFor({ state: 'detached', timeout: 60_000 });
      await idle(lab);
      expect(await panel(lab).getByTestId('repro-run').isEnabled()).toBe(true);
      const stopped = await labRows(lab);
      expect(stopped.some((r) => r.state === 'not-run')).toBe(true);

      await runQuick(lab);
      const after = await labRows(lab);
      expect(after.every((r) => r.state === 'ran')).toBe(true);
      const finished = await panel(lab).getByTestId('repro-source').textContent();
      const m = /(\d+) cell\(s\) run now, (\d+) reused/.exec(finished ?? '');
      expect(m).not.toBeNull();
      expect(Number(m![1]) + Number(m![2])).toBe(6);
      expect(Number(m![1])).toBeGreaterThan(0);

      await lab.page.reload();
      await runQuick(lab);
      expect(await panel(lab).getByTestId('repro-source').textContent()).toContain('0 cell(s) run now, 6 reused');

      // Three seeds: seed 1's cells are reused, seeds 2 and 3 run, and the table shows mean ± std.
      await panel(lab).getByTestId('repro-seeds').selectOption('3');
      await runQuick(lab);
      expect(await panel(lab).getByTestId('repro-source').textContent()).toContain('12 cell(s) run now, 6 reused');
      const r18 = panel(lab).locator('[data-row="resnet18"] td');
      expect(await r18.nth(4).textContent()).toMatch(/^\d+\.\d ± \d+\.\d$/);
      expect(await r18.nth(5).textContent()).toBe('3');
    } finally {
      await lab.close();
    }
  });

  it('a committed results file is shown by default, labelled with its date, machine, seeds and models', async () => {
    const stat = (mean: number, std: number, n: number) => ({ mean, std, n });
    const rows: RowSummary[] = selectRows(false).map((row, i) => {
      const ran = row.id === 'resnet50' || row.id === 'haoli';
      const s = ran ? stat(80 - i, 0.5, 3) : stat(NaN, 0, 0);
      return { row, n: ran ? 3 : 0, macs: ran ? stat(1e9 / (i + 1), 0, 3) : stat(NaN, 0, 0), params: ran ? stat(5e6, 0, 3) : stat(NaN, 0, 0), before: { mAP: s, rank1: s }, after: { mAP: s, rank1: s, rank5: s }, imagesSeen: ran ? [3200, 3200, 3200] : [], seconds: s };
    });
    const rec: ReproductionRecord = {
      format: REPRODUCTION_FORMAT,
      date: '2026-11-20',
      machine: 'Test CPU, 2 cores, wasm backend',
      command: 'npm run lab -- reproduce --json-out public/reproduction.json',
      quick: false,
      tier: 'S',
      seeds: [1, 2, 3],
      budget: { steps: 100, p: 8, k: 4, lr: 1e-4 },
      macsKeep: 0.5,
      wallSeconds: 3600,
      setup: ['Domains: SynthReID S source and target.', 'Models: ResNet-18 public/models/resnet18-w0.5 (fingerprint 11bebfd8); ResNet-50 public/models/resnet50-w0.5 (fingerprint ce704b5f).'],
      notes: ['resnet34-w0.5 is missing from public/models, so its row is not run.'],
      rows,
      verdicts: claimVerdicts(rows),
    };
    const lab = await openLab(h.lb, h.server.origin, QUERY);
    try {
      await lab.context.route('**/reproduction.json', (r) => r.fulfill({ status: 200, contentType: 'application/json', body: reproductionToJson(rec) }));
      await lab.page.reload();
      await lab.page.getByTestId('repro-source').waitFor();
      expect(await lab.page.getByTestId('repro-source').getAttribute('data-kind')).toBe('committed');
      const label = await lab.page.getByTestId('repro-source').textContent();
      expect(label).toContain('2026-11-20');
      expect(label).toContain('Test CPU, 2 cores, wasm backend');
      expect(label).toContain('3 seeds (1, 2, 3)');
      // Which zoo the run used (the zoo has changed between runs): the record's models line.
      expect(label).toContain('Models: ResNet-18 public/models/resnet18-w0.5 (fingerprint 11bebfd8); ResNet-50 public/models/resnet50-w0.5 (fingerprint ce704b5f).');
      expect(label).not.toContain('Domains:');
      const states = await labRows(lab);
      expect(states.filter((r) => r.state === 'ran').map((r) => r.id)).toEqual(['resnet50', 'haoli']);
      expect(await panel(lab).locator('[data-row="haoli"] td').nth(3).textContent()).toBe(`${(80 - 3).toFixed(1)} ± 0.5`);
      expect(await panel(lab).getByTestId('repro-verdict').evaluateAll((els) => els.map((e) => e.getAttribute('data-verdict')))).toEqual(rec.verdicts.map((v) => v.verdict));
      await screenshot(lab.page, 'reproduce-committed');

      // Two regimes in one file: v2 shown by default with its preconditions, v1 one click away.
      const v2: ReproductionRecord = {
        ...rec,
        date: '2026-12-08',
        regime: { id: 'v2', label: 'v2: pre-trained on the pool, then M source' },
        rows: rows.map((r) => (r.n > 0 ? { ...r, after: { ...r.after, rank1: { mean: 90, std: 1, n: 3 } } } : r)),
        preconditions: [{ id: 'resnet50-stronger', text: 'Dense ResNet-50 is stronger than dense ResNet-18.', status: 'failed', evidence: ['rank-1 40 vs 45'], claims: [1, 2] }],
      };
      await lab.context.unroute('**/reproduction.json');
      await lab.context.route('**/reproduction.json', (r) => r.fulfill({ status: 200, contentType: 'application/json', body: reproductionsToJson([v2, rec]) }));
      await lab.page.reload();
      await lab.page.getByTestId('repro-source').waitFor();
      const src = lab.page.getByTestId('repro-source');
      expect(await src.getAttribute('data-regime')).toBe('v2');
      expect(await src.textContent()).toContain('zoo v2: pre-trained on the pool, then M source; of 2026-12-08');
      expect(await panel(lab).getByTestId('repro-precondition').evaluateAll((els) => els.map((e) => `${e.getAttribute('data-id')}:${e.getAttribute('data-status')}`))).toEqual(['resnet50-stronger:failed']);
      expect(await panel(lab).getByTestId('repro-rests-on').first().textContent()).toContain('Dense ResNet-50 is stronger than dense ResNet-18 (failed)');
      // Rank-1 (the fifth cell) is the v2 record's.
      expect(await panel(lab).locator('[data-row="haoli"] td').nth(4).textContent()).toBe('90.0 ± 1.0');
      await panel(lab).screenshot({ path: await screenshot(lab.page, 'reproduce-regimes', false) });
      await panel(lab).getByTestId('repro-view-committed-v1').check();
      await lab.page.waitForFunction(() => document.querySelector('[data-testid="repro-source"]')?.getAttribute('data-regime') === 'v1');
      expect(await src.textContent()).toContain('2026-11-20');
      expect(await panel(lab).getByTestId('repro-preconditions').count()).toBe(0);
      expect(await panel(lab).locator('[data-row="haoli"] td').nth(4).textContent()).toBe(`${(80 - 3).toFixed(1)} ± 0.5`);
      await panel(lab).getByTestId('repro-view-committed').check();
      await lab.page.waitForFunction(() => document.querySelector('[data-testid="repro-source"]')?.getAttribute('data-regime') === 'v2');
    } finally {
      await lab.close();
    }
  });
});
