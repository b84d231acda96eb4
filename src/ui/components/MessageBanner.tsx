/** Errors and notices as plain sentences, at the top of the page where nobody misses them. */
import type { Message } from '../useLab';

export function MessageBanner({ messages, onDismiss }: { messages: Message[]; onDismiss(id: number): void }) {
  if (messages.length === 0) return null;
  return (
    <div className="banners">
      {messages.map((m) => (
        <div key={m.id} className={`banner ${m.kind}`} role={m.kind === 'error' ? 'alert' : 'status'} data-testid={`banner-${m.kind}`}>
          <span className="banner-text">{m.text}</span>
          <button type="button" className="banner-close" aria-label="Dismiss" onClick={() => onDismiss(m.id)}>
            ×
          </button>
        </div>
      ))}
    </div>
  );
}
