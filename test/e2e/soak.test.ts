/**
 * A seeded 60-second soak of the page: random clicks, choices, slider moves, typing and key
 * presses over every control (buttons, selects, checkboxes, radio buttons, ranges, number and
 * text fields, <summary> toggles, the keyboard shortcuts), as fast as a restless user, with jobs
 * started, queued and cancelled at random. Afterwards the page must have had no uncaught error,
 * must come back to idle (no stuck job), and its runs table must be intact, also after a reload
 * (every stored run still reads back). Controls a user cannot use are skipped: disabled ones
 * (also through a disabled fieldset, while a job runs), hidden ones and read-only fields.
 *
 * Left out, on purpose: the backend selector (a WebGPU worker on SwiftShader takes minutes per
 * job), Share (a prompt), file pickers (need files), the quick reproduction (loads the full zoo
 * models: minutes) and Clear runs' second click (it would empty the table this test checks; its
 * first click, which only asks, is in). Before, a text match meant to leave Clear runs out
 * missed it, so a seed whose path cleared the table failed the test.
 */
import { describe, expect, it } from 'vitest';
import { chartPoints, idle, openLab, useLabServer } from './browser';
import { Prng } from '../../src/engine/util/prng';

const h = useLabServer();
const SEED = Number(process.env.SOAK_SEED ?? 20);
const SOAK_MS = Number(process.env.SOAK_MS ?? 60_000);
const KEYS = ['p', 'e', 'f', 'r', 'm', 'x', 's', '?', 'Escape'];
const EXCLUDED = ['backend-select', 'share', 'repro-run', 'model-files', 'dataset-zip', 'clear-runs-confirm'];
const CONTROLS = [
  'button', 'select', 'summary',
  'input[type=checkbox]', 'input[type=radio]', 'input[type=range]', 'input[type=number]',
  // Text fields (the sensitivity rates): <input> without a type is one.
  'input[type=text]', 'input:not([type])',
].map((c) => `.app ${c}`).join(', ');
/** What a restless user types into a text field: valid lists, odd spacing, junk. */
const TYPED = ['0.25,0.5,0.75', '0.1', '', ' 0.3 , 0.6 ', '0.5,,0.7', '1.5', '-0.2', '0,1', 'NaN', '1e-9', 'abc', '0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9'];

describe('soak', () => {
  it(`${SOAK_MS / 1000} s of random clicks and keys (seed ${SEED}): no uncaught error, no stuck job, runs intact`, async () => {
    const lab = await openLab(h.lb, h.server.origin, '?backend=wasm&model=tiny&tier=XS&steps=2&ftids=2&ftper=2&sids=2');
    lab.page.on('dialog', (d) => void d.dismiss());
    try {
      await expect.poll(() => chartPoints(lab), { timeout: 240_000, interval: 250 }).toBeGreaterThanOrEqual(1);
      await idle(lab, 240_000);
      const rowsAtStart = await lab.page.getByTestId('run-row').count();
      const rng = new Prng(SEED);
      const counts = { clicks: 0, keys: 0, controls: new Set<string>(), kinds: new Map<string, number>() };
      const t0 = Date.now();
      while (Date.now() - t0 < SOAK_MS) {
        if (rng.bool(0.25)) {
          const key = KEYS[rng.int(0, KEYS.length - 1)];
          await lab.page.keyboard.press(key === '?' ? 'Shift+Slash' : key);
          counts.keys++;
        } else {
          const what = await lab.page.evaluate(
            ([pick, choice, selector, excluded, typed]) => {
              const all = Array.from(document.querySelectorAll<HTMLElement>(selector));
              const usable = all.filter(
                (el) => !el.matches(':disabled') && !(el as HTMLInputElement).readOnly && el.offsetParent !== null && !excluded.includes(el.dataset.testid ?? ''),
              );
              if (usable.length === 0) return null;
              const el = usable[Math.floor(pick * usable.length)];
              // An input has no text of its own: name it by its label (the two prune-target radios differ there).
              const text = el instanceof HTMLInputElement ? el.closest('label')?.textContent : el.textContent;
              const name = el.dataset.testid ?? `${el.tagName.toLowerCase()}:${(text ?? '').trim().slice(0, 20)}`;
              if (el instanceof HTMLSelectElement) {
                const options = Array.from(el.options).filter((o) => !o.disabled);
                el.value = options[Math.floor(choice * options.length)]?.value ?? el.value;
                el.dispatchEvent(new Event('change', { bubbles: true }));
              } else if (el instanceof HTMLInputElement && (el.type === 'range' || el.type === 'number')) {
                const lo = Number(el.min || 1);
                const hi = Number(el.max || (el.type === 'number' ? 6 : 1));
                const v = el.type === 'number' ? Math.round(lo + choice * Math.min(hi - lo, 5)) : lo + choice * (hi - lo);
                Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value')!.set!.call(el, String(v));
                el.dispatchEvent(new Event('input', { bubbles: true }));
                el.dispatchEvent(new Event('change', { bubbles: true }));
              } else if (el instanceof HTMLInputElement && el.type === 'text') {
                // Set as React sees typing: the native setter, then an input event.
                Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value')!.set!.call(el, typed[Math.floor(choice * typed.length)]);
                el.dispatchEvent(new Event('input', { bubbles: true }));
              } else el.click();
              const kind = el instanceof HTMLInputElement ? el.type : el.tagName.toLowerCase();
              return { name, kind };
            },
            [rng.next(), rng.next(), CONTROLS, EXCLUDED, TYPED] as const,
          );
          if (what) {
            counts.clicks++;
            counts.controls.add(what.name);
            counts.kinds.set(what.kind, (counts.kinds.get(what.kind) ?? 0) + 1);
          }
        }
        await lab.page.waitForTimeout(rng.int(20, 400));
      }
      // Cancel whatever runs or waits, then the page must settle.
      await lab.page.keyboard.press('Escape');
      const deadline = Date.now() + 180_000;
      while ((await lab.page.locator('.app').getAttribute('data-busy')) !== 'false' && Date.now() < deadline) {
        await lab.page.keyboard.press('Escape');
        await lab.page.waitForTimeout(500);
      }
      await idle(lab, 5_000);
      const kinds = [...counts.kinds].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k} ${n}`).join(', ');
      const presenter = (await lab.page.locator('.app.presenter').count()) > 0;
      console.log(`soak seed ${SEED}: ${counts.clicks} clicks on ${counts.controls.size} controls (${kinds}), ${counts.keys} keys; presenter mode ${presenter ? 'on' : 'off'} at the end`);
      expect(counts.controls.size).toBeGreaterThan(15);
      expect(lab.errors).toEqual([]);
      const errors = (await lab.page.getByTestId('banner-error').allTextContents()).join('\n');
      expect(errors).not.toMatch(/Something went wrong|worker stopped|reading '/);
      expect(await lab.page.getByTestId('panel-failed').count()).toBe(0);
      // Presenter mode (the S key or its header toggle) hides the runs table by design, and it is
      // kept in the URL, so a reload would keep it too: leave it to count the runs.
      await lab.page.getByTestId('presenter-toggle').uncheck();
      // The table shows the current dataset's runs unless "All datasets" is ticked, and the soak
      // switches datasets at random: count every run.
      await lab.page.getByTestId('all-datasets').check();
      const rows = await lab.page.getByTestId('run-row').count();
      expect(rows).toBeGreaterThanOrEqual(rowsAtStart);
      // Every run on the page was stored intact: after a reload they all read back, none set aside.
      await lab.page.reload();
      await idle(lab, 240_000);
      await lab.page.getByTestId('all-datasets').check();
      await expect.poll(() => lab.page.getByTestId('run-row').count(), { timeout: 60_000 }).toBeGreaterThanOrEqual(rows);
      expect((await lab.page.getByTestId('banner-notice').allTextContents()).join('\n')).not.toMatch(/set aside/);
      expect(lab.errors).toEqual([]);
    } finally {
      await lab.close();
    }
  }, 900_000);
});
