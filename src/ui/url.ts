/**
 * The page's URL parameters: ?backend=auto|webgpu|wasm|webgl|cpu forces a backend, ?model=<name>
 * picks a zoo model ("tiny" builds a small random one). The URL is the shareable state: a
 * presenter can bookmark exactly the set-up they rehearsed.
 */
import { isBackendChoice, type BackendChoice } from '../workers/api';

export interface PageParams {
  backend: BackendChoice;
  /** A backend value that was not understood, to tell the user. */
  badBackend?: string;
  model?: string;
}

export function readParams(search: string = window.location.search): PageParams {
  const q = new URLSearchParams(search);
  const raw = q.get('backend');
  const model = q.get('model') ?? undefined;
  if (raw === null || raw === '') return { backend: 'auto', model };
  if (isBackendChoice(raw)) return { backend: raw, model };
  return { backend: 'auto', badBackend: raw, model };
}

/** Record the backend choice in the address bar without reloading. */
export function writeBackendParam(choice: BackendChoice): void {
  const url = new URL(window.location.href);
  if (choice === 'auto') url.searchParams.delete('backend');
  else url.searchParams.set('backend', choice);
  window.history.replaceState(null, '', url);
}
