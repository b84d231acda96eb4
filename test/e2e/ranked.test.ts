/**
 * Ranked lists in real Chromium (wasm, the tiny random ResNet, SynthReID-XS): ten cells per row,
 * borders that agree with the identities and with the worker's own flags, the lists' mAP equal
 * to the evaluation's, worst-first ordering by the current model's AP, and after a prune the
 * current row changes while the dense row stays.
 */
import { describe, expect, it } from 'vitest';
import type { RankedListsPage } from '../../src/workers/api';
import { chartPoints, idle, openLab, screenshot, type LabPage, useLabServer } from './browser';

const h = useLabServer();

interface Cell {
  match: string | null;
  pid: number;
  camera: number;
  gallery: number;
  distance: number;
  border: string;
}

async function cells(lab: LabPage, which: 'dense' | 'current'): Promise<Cell[]> {
  return lab.page
    .getByTestId(`ranked-row-${which}`)
    .getByTestId('ranked-cell')
    .evaluateAll((els) =>
      els.map((el) => ({
        match: el.getAttribute('data-match'),
        pid: Number(el.getAttribute('data-pid')),
        camera: Number(el.getAttribute('data-camera')),
        gallery: Number(el.getAttribute('data-gallery')),
        distance: Number(el.getAttribute('data-distance')),
        border: getComputedStyle(el.querySelector('canvas')!).borderTopColor,
      })),
    );
}

const GREEN = 'rgb(46, 125, 79)';
const RED = 'rgb(192, 57, 43)';

/** A page straight from the worker (the same call the panel makes), for comparisons. */
function workerPage(lab: LabPage, order: 'query' | 'worst', offset: number, count: number): Promise<RankedListsPage> {
  return lab.page.evaluate(
    ([order, offset, count]) => window.__lab!.rankedLists({ order, offset, count }, `e2e-ranked-${order}-${offset}-${Math.random()}`),
    [order, offset, count] as const,
  ) as Promise<RankedListsPage>;
}

const attr = (lab: LabPage, testId: string, name: string) => lab.page.getByTestId(testId).getAttribute(name);

describe('ranked lists', () => {
  it('top-10 per model with true/false borders, worst first, and the current row follows a prune', async () => {
    const lab = await openLab(h.lb, h.server.origin, '?backend=wasm&model=tiny&tier=XS');
    try {
      await expect.poll(() => chartPoints(lab), { timeout: 180_000, interval: 250 }).toBeGreaterThanOrEqual(1);
      await idle(lab);
      const evalText = (await lab.page.getByTestId('last-eval').textContent())!;
      const evalMap = Number(/mAP (\d+\.\d\d)/.exec(evalText)![1]);

      await lab.page.getByTestId('ranked-show').click();
      await lab.page.getByTestId('ranked-lists').waitFor({ timeout: 120_000 });
      await idle(lab);
      // The lists open worst-first; the checks below start from query order.
      expect(await lab.page.getByTestId('ranked-worst').isChecked()).toBe(true);
      expect(await lab.page.getByTestId('ranked-position').textContent()).toMatch(/^Worst 1 of/);
      await lab.page.getByTestId('ranked-worst').uncheck();
      await expect.poll(() => lab.page.getByTestId('ranked-position').textContent()).toMatch(/^Query 1 of/);
      await expect.poll(() => attr(lab, 'ranked-lists', 'data-stale')).toBe('false');
      await idle(lab);
      const stateBefore = await attr(lab, 'ranked-lists', 'data-state-id');
      expect(await lab.page.getByTestId('ranked-same').isVisible()).toBe(true);

      // Ten cells per row; each border says whether the cell shows the query's identity.
      const qpid = Number(await attr(lab, 'ranked-query', 'data-pid'));
      const qcam = Number(await attr(lab, 'ranked-query', 'data-camera'));
      const dense0 = await cells(lab, 'dense');
      const current0 = await cells(lab, 'current');
      expect(dense0).toHaveLength(10);
      expect(current0).toHaveLength(10);
      for (const c of dense0) {
        expect(c.match).toBe(String(c.pid === qpid));
        expect(c.border).toBe(c.pid === qpid ? GREEN : RED);
        expect(c.pid).not.toBe(-1); // junk is never shown
        expect(c.pid === qpid && c.camera === qcam).toBe(false); // nor the query's own camera
      }
      for (let i = 1; i < 10; i++) expect(dense0[i].distance).toBeGreaterThanOrEqual(dense0[i - 1].distance);
      // The same as the worker's own page, and green cells count its match flags.
      const w = await workerPage(lab, 'query', 0, 20);
      expect(w.queries[0].query).toBe(Number(await attr(lab, 'ranked-lists', 'data-query')));
      expect(dense0.map((c) => c.gallery)).toEqual(w.queries[0].dense.items.map((i) => i.gallery));
      expect(dense0.filter((c) => c.border === GREEN).length).toBe(w.queries[0].dense.items.filter((i) => i.match).length);
      // The lists' mAP is the evaluation's (same embeddings, same protocol).
      expect((w.mAP.current * 100).toFixed(2)).toBe(evalMap.toFixed(2));
      await screenshot(lab.page, 'ranked-dense');

      // Worst first: position 0 holds the lowest AP over all queries, position 1 no lower.
      const allAp: number[] = [];
      for (let off = 0; off < w.total; off += 20) {
        const p = off === 0 ? w : await workerPage(lab, 'query', off, 20);
        for (const q of p.queries) if (q.current.ap !== null) allAp.push(q.current.ap);
      }
      await lab.page.getByTestId('ranked-worst').check();
      await expect.poll(() => lab.page.getByTestId('ranked-position').textContent()).toMatch(/^Worst 1 of/);
      await expect.poll(() => attr(lab, 'ranked-lists', 'data-stale')).toBe('false');
      const worst0 = Number(await attr(lab, 'ranked-row-current', 'data-ap'));
      expect(worst0).toBe(Math.min(...allAp));
      await lab.page.getByTestId('ranked-next').click();
      await expect.poll(() => attr(lab, 'ranked-lists', 'data-position')).toBe('1');
      const worst1 = Number(await attr(lab, 'ranked-row-current', 'data-ap'));
      expect(worst1).toBeGreaterThanOrEqual(worst0);
      await lab.page.getByTestId('ranked-prev').click();
      await expect.poll(() => attr(lab, 'ranked-lists', 'data-position')).toBe('0');
      await lab.page.getByTestId('ranked-worst').uncheck();
      await expect.poll(() => attr(lab, 'ranked-lists', 'data-query')).toBe(String(w.queries[0].query));
      await idle(lab);

      // Prune (L1, 50%): the lists refresh by themselves; dense stays, current changes.
      await lab.page.getByTestId('prune').click();
      await expect.poll(() => chartPoints(lab), { timeout: 120_000 }).toBe(2);
      await expect.poll(() => attr(lab, 'ranked-lists', 'data-state-id'), { timeout: 120_000 }).not.toBe(stateBefore);
      await expect.poll(() => attr(lab, 'ranked-lists', 'data-stale')).toBe('false');
      await idle(lab);
      expect(await lab.page.getByTestId('ranked-same').count()).toBe(0);
      const dense1 = await cells(lab, 'dense');
      const current1 = await cells(lab, 'current');
      expect(dense1).toEqual(dense0);
      expect(current1).toHaveLength(10);
      expect(current1.map((c) => c.distance)).not.toEqual(current0.map((c) => c.distance));
      for (const c of current1) expect(c.border).toBe(c.pid === qpid ? GREEN : RED);
      await screenshot(lab.page, 'ranked-pruned');

      expect(lab.foreignRequests()).toEqual([]);
      expect(lab.errors).toEqual([]);
    } finally {
      await lab.close();
    }
  });

  it('in presenter mode the panel is there in large type, and the worker refuses a bad page with a sentence', async () => {
    const lab = await openLab(h.lb, h.server.origin, '?backend=wasm&model=tiny&tier=XS&present=1');
    try {
      await expect.poll(() => chartPoints(lab), { timeout: 180_000, interval: 250 }).toBeGreaterThanOrEqual(1);
      await idle(lab);
      const show = lab.page.getByTestId('ranked-show');
      expect(await show.isVisible()).toBe(true);
      const fontPx = await show.evaluate((el) => parseFloat(getComputedStyle(el).fontSize));
      expect(fontPx).toBeGreaterThanOrEqual(22);
      await show.click();
      await lab.page.getByTestId('ranked-lists').waitFor({ timeout: 120_000 });
      expect(await lab.page.getByTestId('ranked-row-current').getByTestId('ranked-cell').count()).toBe(10);
      // Cells carry accessible names: rank, identity, camera, true/false.
      const label = await lab.page.getByTestId('ranked-row-current').getByRole('img').first().getAttribute('aria-label');
      expect(label).toMatch(/^Rank 1: identity -?\d+, camera \d+, a (true|false) match$/);
      await screenshot(lab.page, 'ranked-presenter', false);
      const err = await lab.page.evaluate(() =>
        window.__lab!.rankedLists({ order: 'query', offset: 100000, count: 1 }, 'e2e-ranked-bad').then(
          () => 'no error',
          (e: Error & { code?: string }) => `${e.code}: ${e.message}`,
        ),
      );
      expect(err).toMatch(/^bad-argument: The page must start at a query position from 0 to \d+; got 100000\.$/);
    } finally {
      await lab.close();
    }
  });
});
