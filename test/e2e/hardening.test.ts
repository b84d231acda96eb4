/**
 * The lab's defences in real Chromium: a Content-Security-Policy (own origin only, wasm
 * compilation, blob: workers for the wasm thread pool) that the main flow never trips, and a
 * storage failure when saving a run that reaches the banner instead of vanishing.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CSP_HEADER, CSP_META } from '../../src/node/csp';
import { ROOT, launchBrowser, openLab, startPreview, type LabBrowser, type Server, chartPoints, idle } from './browser';

const FAST = 'model=tiny&tier=XS';

let server: Server;
let lb: LabBrowser;

beforeAll(async () => {
  server = await startPreview();
  lb = await launchBrowser();
});

afterAll(async () => {
  await lb?.close();
  await server?.stop();
});

declare global {
  interface Window {
    __cspViolations?: string[];
  }
}

/** Runs before the page's scripts: every CSP violation the document sees, as "directive blocked-uri". */
function recordCspViolations(): void {
  window.__cspViolations = [];
  document.addEventListener('securitypolicyviolation', (e) => window.__cspViolations!.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`));
}

/** Runs before the page's scripts: IndexedDB refuses every write as a full disk would. */
function failStorageWrites(): void {
  IDBObjectStore.prototype.put = function () {
    throw new DOMException('The quota has been exceeded.', 'QuotaExceededError');
  };
}

describe('Content-Security-Policy', () => {
  it('is sent as a header and as a <meta> in the built page; only the own origin, blob: workers and wasm are allowed', async () => {
    const res = await fetch(server.origin + '/');
    const header = res.headers.get('content-security-policy');
    expect(header).toBe(CSP_HEADER);
    const directives = new Map(header!.split(';').map((d) => d.trim().split(/\s+/)).map(([k, ...v]) => [k, v]));
    expect(directives.get('default-src')).toEqual(["'self'"]);
    expect(directives.get('script-src')).toContain("'wasm-unsafe-eval'");
    expect(directives.get('script-src')).not.toContain("'unsafe-eval'");
    expect(directives.get('script-src')).not.toContain("'unsafe-inline'");
    expect(directives.get('connect-src')).toEqual(["'self'"]);
    // No directive names another origin or a wildcard.
    for (const [, v] of directives) for (const src of v) expect(src).toMatch(/^('[a-z-]+'|blob:|data:)$/);
    const html = readFileSync(join(ROOT, 'dist', 'index.html'), 'utf8');
    expect(html).toContain(`http-equiv="Content-Security-Policy"`);
    expect(html.replace(/&#39;/g, "'")).toContain(`content="${CSP_META}"`);
    // The worker script is served under the same policy (a worker gets its own from its response).
    const workerFile = readdirSync(join(ROOT, 'dist', 'assets')).find((f) => /^lab\.worker-.*\.js$/.test(f));
    expect(workerFile).toBeDefined();
    const worker = await fetch(`${server.origin}/assets/${workerFile}`);
    expect(worker.headers.get('content-security-policy')).toBe(CSP_HEADER);
  });

  it('the main flow (baseline, prune, evaluate, fine-tune) reports no violation, on the page or in its workers', async () => {
    const lab = await openLab(lb, server.origin, `?backend=wasm&${FAST}`, undefined, [recordCspViolations]);
    try {
      await expect.poll(() => chartPoints(lab), { timeout: 180_000, interval: 250 }).toBeGreaterThanOrEqual(1);
      await idle(lab, 180_000);
      expect(await lab.page.evaluate(() => window.__cspViolations!.length)).toBe(0);
      // wasm with threads under the policy: the pool's blob: workers started.
      expect(Number(await lab.page.getByTestId('backend').getAttribute('data-threads'))).toBeGreaterThanOrEqual(2);
      await lab.page.getByTestId('prune').click();
      await expect.poll(() => chartPoints(lab), { timeout: 120_000 }).toBe(2);
      await idle(lab);
      await lab.page.getByTestId('evaluate').click();
      await idle(lab);
      await lab.page.getByTestId('steps').fill('2');
      await lab.page.getByTestId('finetune').click();
      await expect.poll(() => chartPoints(lab), { timeout: 180_000, interval: 250 }).toBe(3);
      await idle(lab);
      expect(await lab.page.evaluate(() => window.__cspViolations)).toEqual([]);
      // Workers report violations on their own global; Chromium logs them as console errors, which openLab collects.
      expect(lab.errors.filter((e) => /Content Security Policy|Refused to/i.test(e))).toEqual([]);
      expect(lab.errors).toEqual([]);

      // Control: the listener does see a violation when one happens (an inline script is refused;
      // once per enforcing policy, header and meta).
      await lab.page.evaluate(() => {
        const s = document.createElement('script');
        s.textContent = 'window.__inlineRan = true';
        document.body.appendChild(s);
      });
      await expect.poll(() => lab.page.evaluate(() => window.__cspViolations!.length)).toBeGreaterThanOrEqual(1);
      expect(await lab.page.evaluate(() => (window as unknown as { __inlineRan?: boolean }).__inlineRan)).toBeUndefined();
    } finally {
      await lab.close();
    }
  });
});

describe('persistence failures', () => {
  it('a full storage quota when saving a run is said in the banner; the run stays on the chart', async () => {
    const lab = await openLab(lb, server.origin, `?backend=wasm&${FAST}`, undefined, [failStorageWrites]);
    try {
      await expect.poll(() => chartPoints(lab), { timeout: 180_000, interval: 250 }).toBe(1);
      await idle(lab, 180_000);
      await expect
        .poll(() => lab.page.getByTestId('banner-error').allTextContents(), { timeout: 30_000 })
        .toContainEqual(expect.stringContaining('The run could not be saved for your next visit: the browser\u2019s storage for this site is full (QuotaExceededError).'));
      expect(await lab.page.getByTestId('run-row').count()).toBe(1);
    } finally {
      await lab.close();
    }
  });
});
