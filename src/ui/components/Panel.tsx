/** A titled section of the lab. Each workflow step (model, data, prune, fine-tune, results) is one. */
import type { ReactNode } from 'react';
import { PanelBoundary } from './PanelBoundary';

export function Panel({ id, title, step, children }: { id: string; title: string; step?: number; children: ReactNode }) {
  return (
    <section className={`panel panel-${id}`} aria-labelledby={`panel-${id}-title`} data-testid={`panel-${id}`}>
      <h2 id={`panel-${id}-title`}>
        {step !== undefined && <span className="step">{step}</span>}
        {title}
      </h2>
      <PanelBoundary title={title}>{children}</PanelBoundary>
    </section>
  );
}

/** What a panel will hold once its engine part lands. */
export function Coming({ children }: { children: ReactNode }) {
  return <div className="coming">{children}</div>;
}
