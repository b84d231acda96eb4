/** The lab's page: header with the backend, messages, then the workflow panels in order. */
import { useEffect, useState } from 'react';
import { Header } from './components/Header';
import { JobBar } from './components/JobBar';
import { MessageBanner } from './components/MessageBanner';
import { ModelPanel } from './components/ModelPanel';
import { DataPanel, FineTunePanel, PrunePanel, ResultsPanel } from './components/PlaceholderPanels';
import { readParams } from './url';
import { useLab } from './useLab';

const params = readParams();
const startMessages = params.badBackend
  ? [`The address asks for backend "${params.badBackend}", which the lab does not know; it uses "auto" (choices: auto, webgpu, wasm, webgl, cpu).`]
  : [];

export function App() {
  const lab = useLab(params.backend, params.model, startMessages);
  const [largeText, setLargeText] = useState(false);

  useEffect(() => {
    document.documentElement.classList.toggle('large-text', largeText);
  }, [largeText]);

  return (
    <div className="app" data-phase={lab.phase}>
      <Header choice={lab.choice} status={lab.status} phase={lab.phase} onChoice={lab.setChoice} largeText={largeText} onLargeText={setLargeText} />
      <MessageBanner messages={lab.messages} onDismiss={lab.dismiss} />
      {lab.jobs.length > 0 && (
        <div className="jobs">
          {lab.jobs.map((j) => (
            <JobBar key={j.id} job={j} />
          ))}
        </div>
      )}
      <main className="panels">
        <ModelPanel model={lab.model} latency={lab.latency} busy={lab.jobs.length > 0 || lab.phase !== 'ready'} onMeasureLatency={lab.measureLatency} />
        <DataPanel />
        <PrunePanel />
        <FineTunePanel />
        <ResultsPanel />
      </main>
    </div>
  );
}
