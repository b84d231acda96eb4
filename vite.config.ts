import { defineConfig, type Plugin } from 'vite';
import react from '@vitejs/plugin-react';
import { CSP_DEV_HEADER, CSP_HEADER, CSP_META } from './src/node/csp';

// Cross-origin isolation (COOP/COEP) makes SharedArrayBuffer available, which tfjs's
// wasm backend needs for its thread pool. Every way of serving the app sets them.
const isolation = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};

/** The built index.html carries the policy too, for hosts that cannot set headers (dev has its own, looser one). */
function cspMeta(): Plugin {
  return {
    name: 'lab-csp-meta',
    apply: 'build',
    transformIndexHtml: () => [{ tag: 'meta', attrs: { 'http-equiv': 'Content-Security-Policy', content: CSP_META }, injectTo: 'head-prepend' }],
  };
}

export default defineConfig({
  plugins: [react(), cspMeta()],
  server: { headers: { ...isolation, 'Content-Security-Policy': CSP_DEV_HEADER } },
  preview: { headers: { ...isolation, 'Content-Security-Policy': CSP_HEADER } },
  worker: { format: 'es' },
  build: { target: 'es2022', chunkSizeWarningLimit: 4096 },
});
