/**
 * The lab's Content-Security-Policy. Everything comes from the app's own origin; the wasm
 * backend needs 'wasm-unsafe-eval' (WebAssembly compilation) and starts its thread pool as
 * blob: workers that import their script from a blob: URL; thumbnails and downloads use
 * blob:/data: URLs. No other origin can be reached, framed, or posted to.
 */

/** Directives both delivered forms share (a <meta> policy ignores frame-ancestors, and warns). */
const COMMON: Record<string, string> = {
  'default-src': "'self'",
  'script-src': "'self' blob: 'wasm-unsafe-eval'",
  'worker-src': "'self' blob:",
  'connect-src': "'self'",
  'img-src': "'self' data: blob:",
  'style-src': "'self'",
  'font-src': "'self'",
  'object-src': "'none'",
  'base-uri': "'self'",
  'form-action': "'self'",
};

function join(d: Record<string, string>): string {
  return Object.entries(d)
    .map(([k, v]) => `${k} ${v}`)
    .join('; ');
}

/** The header served with the built app (`vite preview`, `npm start`). */
export const CSP_HEADER = join({ ...COMMON, 'frame-ancestors': "'none'" });

/** The same policy as a <meta http-equiv> in the built index.html (for static hosts without headers). */
export const CSP_META = join(COMMON);

/**
 * The dev server's policy: Vite injects an inline React-refresh preamble and <style> tags and
 * talks to the page over a WebSocket, so scripts and styles may be inline and ws: is allowed.
 */
export const CSP_DEV_HEADER = join({
  ...COMMON,
  'script-src': "'self' 'unsafe-inline' blob: 'wasm-unsafe-eval'",
  'style-src': "'self' 'unsafe-inline'",
  'connect-src': "'self' ws: wss:",
});
