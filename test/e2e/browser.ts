/**
 * Shared end-to-end helpers: serve the built app (dist/) with `vite preview` (the same server
 * and COOP/COEP headers as `npm start`), drive Debian's Chromium with playwright-core, watch
 * every request, collect long tasks on the main thread, and save screenshots.
 *
 * Tests need a fresh build: `npm run test:e2e` (and `npm test`) build first. A missing dist/ is
 * built here; a stale one is the caller's business.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, expect } from 'vitest';
import { chromium, type Browser, type BrowserContext, type Page, type Request } from 'playwright-core';

export const ROOT = resolve(import.meta.dirname, '../..');
export const ARTIFACTS = join(ROOT, 'test-artifacts');
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
/** The build to serve: dist/ unless LAB_DIST names another folder (so parallel builds do not collide). */
export const DIST = process.env.LAB_DIST ?? 'dist';

/** A TCP port nobody listens on right now. */
export async function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', fail);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => ok(port));
    });
  });
}

export interface Server {
  /** e.g. http://127.0.0.1:41234 */
  origin: string;
  stop(): Promise<void>;
}

function ensureBuilt(): void {
  if (existsSync(join(ROOT, DIST, 'index.html'))) return;
  execFileSync(process.execPath, [join(ROOT, 'node_modules/vite/bin/vite.js'), 'build', '--outDir', DIST], { cwd: ROOT, stdio: 'inherit' });
}

async function waitForHttp(url: string, child: ChildProcess, timeoutMs: number, log: () => string): Promise<void> {
  const t0 = Date.now();
  while (Date.now() - t0 < timeoutMs) {
    if (child.exitCode !== null) throw new Error(`vite preview exited with code ${child.exitCode}:\n${log()}`);
    try {
      const res = await fetch(url);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`vite preview did not answer at ${url} within ${timeoutMs} ms:\n${log()}`);
}

/** Serve the build (dist/ or LAB_DIST) with `vite preview` on a free port. */
export async function startPreview(): Promise<Server> {
  ensureBuilt();
  const port = await freePort();
  const child = spawn(process.execPath, [join(ROOT, 'node_modules/vite/bin/vite.js'), 'preview', '--outDir', DIST, '--host', '127.0.0.1', '--port', String(port), '--strictPort'], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (d) => (out += String(d)));
  child.stderr?.on('data', (d) => (out += String(d)));
  const origin = `http://127.0.0.1:${port}`;
  try {
    await waitForHttp(origin + '/', child, 60_000, () => out);
  } catch (e) {
    child.kill();
    throw e;
  }
  return {
    origin,
    stop: () =>
      new Promise<void>((ok) => {
        if (child.exitCode !== null) return ok();
        child.once('exit', () => ok());
        child.kill('SIGTERM');
      }),
  };
}

export interface LabBrowser {
  browser: Browser;
  close(): Promise<void>;
}

export async function launchBrowser(): Promise<LabBrowser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`Chromium is not installed at ${CHROMIUM}. As root: apt-get update && apt-get install -y chromium`);
  }
  // A fresh profile per launch: playwright's launch() makes (and deletes) a temporary one and
  // refuses a --user-data-dir argument (that is launchPersistentContext's job).
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--enable-unsafe-webgpu',
      '--enable-unsafe-swiftshader',
    ],
  });
  return {
    browser,
    close: () => browser.close(),
  };
}

export interface LongTask {
  startTime: number;
  duration: number;
}

declare global {
  interface Window {
    __longTasks?: LongTask[];
  }
}

/**
 * Record every main-thread long task (> 50 ms by the browser's definition) from the first
 * script on. Read them with `longTasksSince`.
 */
function installLongTaskObserver(): void {
  window.__longTasks = [];
  try {
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) window.__longTasks!.push({ startTime: e.startTime, duration: e.duration });
    }).observe({ type: 'longtask', buffered: true });
  } catch {
    // no longtask support: the list stays empty and tests that need it check `supported`
  }
}

/** The page's clock now (performance.now()), to mark the start of a piece of work. */
export function pageNow(page: Page): Promise<number> {
  return page.evaluate(() => performance.now());
}

/** Long tasks that started at or after `since` (a pageNow() mark). */
export async function longTasksSince(page: Page, since: number): Promise<LongTask[]> {
  return page.evaluate((t) => (window.__longTasks ?? []).filter((e) => e.startTime >= t), since);
}

/**
 * Record when the lab's busy flag (.app[data-busy]) changes, so a test can bound "while the
 * worker computes": from a click until the page is idle again.
 */
export async function watchBusy(page: Page): Promise<void> {
  await page.evaluate(() => {
    const w = window as unknown as { __busyLog: [number, string][] };
    w.__busyLog = [];
    const app = document.querySelector('.app')!;
    new MutationObserver(() => w.__busyLog.push([performance.now(), app.getAttribute('data-busy') ?? ''])).observe(app, { attributes: true, attributeFilter: ['data-busy'] });
  });
}

/** Long tasks that started between `since` and the first time the page became idle after it (plus the longest task overall since then, for the record). */
export async function longTasksWhileBusy(page: Page, since: number): Promise<{ whileBusy: LongTask[]; idleAt: number; longestAfter: number }> {
  return page.evaluate((t) => {
    const log = (window as unknown as { __busyLog: [number, string][] }).__busyLog ?? [];
    const idle = log.find(([at, v]) => at > t && v === 'false');
    const idleAt = idle ? idle[0] : Infinity;
    const all = (window.__longTasks ?? []).filter((e) => e.startTime >= t);
    return {
      whileBusy: all.filter((e) => e.startTime < idleAt),
      idleAt,
      longestAfter: Math.max(0, ...all.filter((e) => e.startTime >= idleAt).map((e) => e.duration)),
    };
  }, since);
}

export function longTaskSupported(page: Page): Promise<boolean> {
  return page.evaluate(() => PerformanceObserver.supportedEntryTypes.includes('longtask'));
}

export interface LabPage {
  context: BrowserContext;
  page: Page;
  /** Every request the page and its workers made. */
  requests: string[];
  /** Requests to anything but the page's origin (data: and blob: URLs are local). */
  foreignRequests(): string[];
  /** Uncaught page errors and console errors (HTTP failures are in `failedResponses`). */
  errors: string[];
  /** "404 http://…" for every response with status >= 400, from the page and its workers. */
  failedResponses: string[];
  close(): Promise<void>;
}

/**
 * Open the lab at `query` (e.g. "?backend=wasm") in a fresh context. `initScripts` run in the
 * page before its own scripts (e.g. to listen for CSP violations or stub a browser API).
 */
export async function openLab(lb: LabBrowser, origin: string, query = '', viewport = { width: 1440, height: 1000 }, initScripts: (string | (() => void))[] = []): Promise<LabPage> {
  const context = await lb.browser.newContext({ viewport });
  const requests: string[] = [];
  const errors: string[] = [];
  const failedResponses: string[] = [];
  context.on('request', (r: Request) => requests.push(r.url()));
  context.on('response', (r) => {
    if (r.status() >= 400) failedResponses.push(`${r.status()} ${r.url()}`);
  });
  await context.addInitScript(installLongTaskObserver);
  for (const script of initScripts) await context.addInitScript(script);
  const page = await context.newPage();
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    // Chromium logs each HTTP error as "Failed to load resource"; failedResponses names the URL.
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) errors.push(`console: ${m.text()}`);
  });
  page.on('worker', (w) => w.on('console', (m) => m.type() === 'error' && errors.push(`worker console: ${m.text()}`)));
  await page.goto(origin + '/' + query);
  return {
    context,
    page,
    requests,
    errors,
    failedResponses,
    foreignRequests: () => requests.filter((u) => !u.startsWith('data:') && !u.startsWith('blob:') && new URL(u).origin !== origin),
    close: () => context.close(),
  };
}

/** Save a screenshot under test-artifacts/ and return its path. */
export async function screenshot(page: Page, name: string, fullPage = true): Promise<string> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const path = join(ARTIFACTS, `${name}.png`);
  // A full-page capture of a scrolled page draws the sticky header mid-page; start at the top.
  if (fullPage) await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path, fullPage });
  return path;
}

/** Number of run points on the results chart. */
export function chartPoints(lab: LabPage): Promise<number> {
  return lab.page.getByTestId('results-chart').getAttribute('data-points').then((v) => Number(v ?? 0));
}

/**
 * Wait until the page says no job is running (WebGPU on SwiftShader needs a long timeout), then
 * until its DOM has been quiet for a moment: results render as React transitions, which may land
 * a few frames after the busy flag drops (so the main thread stays free while a job runs).
 */
export async function idle(lab: LabPage, timeout = 120_000): Promise<void> {
  await expect.poll(() => lab.page.locator('.app').getAttribute('data-busy'), { timeout, interval: 200 }).toBe('false');
  await lab.page.evaluate(
    ({ quietMs, maxMs }) =>
      new Promise<void>((resolve) => {
        let timer = setTimeout(done, quietMs);
        const cap = setTimeout(done, maxMs);
        const observer = new MutationObserver(() => {
          clearTimeout(timer);
          timer = setTimeout(done, quietMs);
        });
        observer.observe(document.body, { subtree: true, childList: true, attributes: true, characterData: true });
        function done() {
          observer.disconnect();
          clearTimeout(timer);
          clearTimeout(cap);
          resolve();
        }
      }),
    { quietMs: 250, maxMs: 5_000 },
  );
}

/** One preview server and one browser for a test file: started before its tests, stopped after. */
export function useLabServer(): { server: Server; lb: LabBrowser } {
  const h = {} as { server: Server; lb: LabBrowser };
  beforeAll(async () => {
    h.server = await startPreview();
    h.lb = await launchBrowser();
  });
  afterAll(async () => {
    await h.lb?.close();
    await h.server?.stop();
  });
  return h;
}
