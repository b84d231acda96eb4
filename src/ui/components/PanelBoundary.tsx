/**
 * Keeps one panel's rendering failure inside that panel: the rest of the page stays usable and
 * the panel says what happened, instead of React unmounting the whole page (a blank screen).
 */
import { Component, type ReactNode } from 'react';

interface State {
  error: string | null;
}

export class PanelBoundary extends Component<{ title: string; children: ReactNode }, State> {
  override state: State = { error: null };

  static getDerivedStateFromError(e: unknown): State {
    return { error: e instanceof Error ? e.message : String(e) };
  }

  override render() {
    if (this.state.error === null) return this.props.children;
    return (
      <div className="panel-failed" role="alert" data-testid="panel-failed">
        The {this.props.title} panel could not be drawn ({this.state.error}); the rest of the lab still works.{' '}
        <button type="button" className="secondary" onClick={() => this.setState({ error: null })}>
          Try again
        </button>
      </div>
    );
  }
}
