/**
 * The always-visible bar: what the lab is, which backend computes and on what hardware, and the
 * backend selector. Presenters (and bug reports) need the backend in every screenshot.
 */
import { BACKEND_CHOICES, type BackendChoice, type BackendStatus } from '../../workers/api';

const CHOICE_LABEL: Record<BackendChoice, string> = {
  auto: 'Auto (fastest)',
  webgpu: 'WebGPU',
  wasm: 'WebAssembly (CPU)',
  webgl: 'WebGL',
  cpu: 'JavaScript (slow)',
};

/** One line about the hardware behind the backend. */
export function backendDetail(st: BackendStatus): string {
  if (st.name === 'wasm' && st.wasm) {
    const threads = st.wasm.threadCount > 1 ? `${st.wasm.threadCount} threads` : 'single thread';
    return `CPU, ${threads}${st.wasm.simd ? ', SIMD' : ', no SIMD'}`;
  }
  if ((st.name === 'webgpu' || st.name === 'webgl') && st.adapter) {
    const a = st.adapter;
    const what = [a.vendor, a.architecture || a.device].filter(Boolean).join(' ') || 'unknown adapter';
    return a.isFallbackAdapter ? `${what} (software fallback, slow)` : what;
  }
  if (st.name === 'cpu') return 'JavaScript, no acceleration';
  return '';
}

interface Props {
  choice: BackendChoice;
  status: BackendStatus | null;
  phase: 'starting' | 'ready' | 'failed';
  onChoice(c: BackendChoice): void;
  largeText: boolean;
  onLargeText(v: boolean): void;
  presenter?: boolean;
  onPresenter?(v: boolean): void;
  onShare?(): void;
  /** After Share link: 'copied', or the link itself when the clipboard refused (the user copies it by hand). */
  shared?: { kind: 'copied' } | { kind: 'manual'; url: string } | null;
}

export function Header({ choice, status, phase, onChoice, largeText, onLargeText, presenter, onPresenter, onShare, shared }: Props) {
  return (
    <header className="app-header">
      <div className="brand">
        <h1>Prunability Lab</h1>
        <span className="tagline">Channel pruning for person re-identification, in your browser</span>
      </div>
      <div className="backend-slot">
        <div
          className="backend-badge"
          data-testid="backend"
          data-backend={status?.name ?? ''}
          data-threads={status?.wasm?.threadCount ?? ''}
          data-isolated={status ? String(status.crossOriginIsolated) : ''}
          data-adapter-architecture={status?.adapter?.architecture ?? ''}
          data-adapter-fallback={status?.adapter ? String(status.adapter.isFallbackAdapter) : ''}
          aria-live="polite"
        >
          {status ? (
            <>
              <span className={`backend-name ${status.hardwareAccelerated ? 'accelerated' : ''}`} data-testid="backend-name">
                {status.name}
              </span>
              <span className="backend-detail" data-testid="backend-detail" title={backendDetail(status)}>
                {backendDetail(status)}
              </span>
            </>
          ) : (
            <span className="backend-detail">{phase === 'failed' ? 'no backend' : 'starting backend…'}</span>
          )}
        </div>
      </div>
      <div className="header-controls">
        <label>
          Backend{' '}
          <select data-testid="backend-select" value={choice} onChange={(e) => onChoice(e.target.value as BackendChoice)}>
            {BACKEND_CHOICES.map((c) => (
              <option key={c} value={c}>
                {CHOICE_LABEL[c]}
              </option>
            ))}
          </select>
        </label>
        <label className="toggle">
          <input type="checkbox" data-testid="large-text" checked={largeText} onChange={(e) => onLargeText(e.target.checked)} /> Large text
        </label>
        {onPresenter && (
          <label className="toggle" title="Large type, essentials only; keys: P prune, E evaluate, F fine-tune, R reset, M metric, ? help">
            <input type="checkbox" data-testid="presenter-toggle" checked={Boolean(presenter)} onChange={(e) => onPresenter(e.target.checked)} /> Presenter
          </label>
        )}
        {onShare && (
          <button type="button" className="secondary" data-testid="share" onClick={onShare} title="Copy a link that opens the lab with these settings and seeds">
            Share link
          </button>
        )}
        {shared?.kind === 'copied' && (
          <span className="share-status" role="status" data-testid="share-status">
            Link copied
          </span>
        )}
        {shared?.kind === 'manual' && (
          <label className="share-status" role="status" data-testid="share-status">
            Copy this link: <input readOnly value={shared.url} onFocus={(e) => e.target.select()} autoFocus size={32} />
          </label>
        )}
      </div>
    </header>
  );
}
