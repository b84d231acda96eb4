/**
 * The lab's page: header with the backend, messages, running jobs, then the workflow panels in
 * order (model, data, prune, fine-tune, results). Presenter mode keeps the essentials in large
 * type and adds keyboard shortcuts, so a talk can be driven without hunting for buttons.
 */
import { useCallback, useEffect, useState } from 'react';
import { DataPanel } from './components/DataPanel';
import { FineTunePanel } from './components/FineTunePanel';
import { Header } from './components/Header';
import { JobBar } from './components/JobBar';
import { MessageBanner } from './components/MessageBanner';
import { LastStrideQuestion } from './components/LastStrideQuestion';
import { ModelPanel } from './components/ModelPanel';
import { PrunePanel } from './components/PrunePanel';
import { ResultsPanel } from './components/ResultsPanel';
import { ReproducePanel } from './components/ReproducePanel';
import { SensitivityPanel } from './components/SensitivityPanel';
import { RankedListsPanel } from './components/RankedListsPanel';
import { ScoreLine } from './components/ScoreLine';
import { InlineJob } from './components/InlineJob';
import { readConfig } from './url';
import { useLab } from './useLab';

const parsed = readConfig();

const SHORTCUTS: [string, string][] = [
  ['P', 'prune with the current settings'],
  ['E', 'quick evaluation of the current model'],
  ['F', 'fine-tune'],
  ['R', 'reset to the dense model'],
  ['M', 'switch mAP / rank-1'],
  ['X', 'switch the cost axis'],
  ['Esc', 'cancel the running job'],
  ['S', 'presenter mode on/off'],
  ['?', 'this help'],
];

function typingInField(t: EventTarget | null): boolean {
  const el = t as HTMLElement | null;
  return Boolean(el && (el.tagName === 'INPUT' || el.tagName === 'SELECT' || el.tagName === 'TEXTAREA' || el.isContentEditable));
}

export function App() {
  const lab = useLab(parsed.config, parsed.problems);
  const [largeText, setLargeText] = useState(false);
  const [help, setHelp] = useState(false);
  const presenter = lab.config.present;
  const { setConfig } = lab;

  useEffect(() => {
    document.documentElement.classList.toggle('large-text', largeText || presenter);
    document.documentElement.classList.toggle('presenter', presenter);
  }, [largeText, presenter]);

  // Share link: copy, and say so where the button is; if the clipboard refuses, show the link to copy by hand.
  const [shared, setShared] = useState<{ kind: 'copied' } | { kind: 'manual'; url: string } | null>(null);
  const share = useCallback(() => {
    const url = window.location.href;
    const copy = navigator.clipboard?.writeText(url) ?? Promise.reject(new Error('no clipboard'));
    copy.then(
      () => setShared({ kind: 'copied' }),
      () => setShared({ kind: 'manual', url }),
    );
  }, []);
  useEffect(() => {
    if (shared?.kind !== 'copied') return;
    const t = setTimeout(() => setShared(null), 4000);
    return () => clearTimeout(t);
  }, [shared]);

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.ctrlKey || e.metaKey || e.altKey || typingInField(e.target)) return;
      const k = e.key.toLowerCase();
      const idle = !lab.busy;
      if (k === 's') setConfig({ present: !presenter });
      else if (k === '?') setHelp((h) => !h);
      else if (k === 'm') setConfig({ metric: lab.config.metric === 'mAP' ? 'rank1' : 'mAP' });
      else if (k === 'x') setConfig({ xAxis: lab.config.xAxis === 'macs' ? 'params' : lab.config.xAxis === 'params' ? 'latency' : 'macs' });
      else if (k === 'escape') {
        if (help) setHelp(false);
        else lab.jobs[lab.jobs.length - 1]?.cancel();
      } else if (idle && k === 'p') lab.prune();
      else if (idle && k === 'e') lab.evaluateQuick();
      else if (idle && k === 'f') lab.fineTune();
      else if (idle && k === 'r') lab.reset();
      else return;
      e.preventDefault();
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [lab, presenter, help, setConfig]);

  const ftJob = lab.jobs.find((j) => j.id === lab.training?.jobId);
  return (
    <div className={`app ${presenter ? 'presenter' : ''}`} data-phase={lab.phase} data-busy={String(lab.busy)}>
      <Header
        choice={lab.choice}
        status={lab.status}
        phase={lab.phase}
        onChoice={lab.setChoice}
        largeText={largeText}
        onLargeText={setLargeText}
        presenter={presenter}
        onPresenter={(v) => setConfig({ present: v })}
        onShare={share}
        shared={shared}
      />
      <MessageBanner messages={lab.messages} onDismiss={lab.dismiss} />
      {lab.lastStrideQuestion && <LastStrideQuestion question={lab.lastStrideQuestion} busy={lab.busy} onAnswer={lab.answerLastStride} />}
      {lab.jobs.length > 0 && (
        <div className="jobs">
          {lab.jobs.map((j) => (
            <JobBar key={j.id} job={j} />
          ))}
        </div>
      )}
      {help && (
        <div className="help" role="dialog" aria-label="Keyboard shortcuts" data-testid="shortcuts" onClick={() => setHelp(false)}>
          <dl>
            {SHORTCUTS.map(([k, what]) => (
              <div key={k}>
                <dt>
                  <kbd>{k}</kbd>
                </dt>
                <dd>{what}</dd>
              </div>
            ))}
          </dl>
        </div>
      )}
      <div className="scorebar" data-testid="scorebar">
        {lab.lastEval && <ScoreLine ev={lab.lastEval} />}
        <span className="actions tight">
          <button type="button" className="secondary" data-testid="evaluate-quick" disabled={lab.busy || !lab.dataset} onClick={lab.evaluateQuick} title="The queries of a fixed, seeded subset of the test identities against the whole gallery: seconds, with a 95% interval">
            Quick evaluation
          </button>
          <button type="button" className="secondary" data-testid="evaluate" disabled={lab.busy || !lab.dataset} onClick={lab.evaluate} title="Every query against the whole gallery; replaces the quick score in the run">
            Full evaluation
          </button>
        </span>
        <InlineJob job={lab.jobs.find((j) => j.origin === 'score')} testId="score-progress" />
      </div>
      <main className="panels">
        <ModelPanel
          model={lab.model}
          lineage={lab.modelState?.lineage ?? null}
          latency={lab.latency}
          busy={lab.busy}
          job={lab.jobs.find((j) => j.origin === 'model')}
          onMeasureLatency={lab.measureLatency}
          onOpen={lab.openModel}
          onExport={lab.exportModel}
        />
        <DataPanel
          config={lab.config}
          setConfig={setConfig}
          dataset={lab.dataset}
          ftSplit={lab.ftSplit}
          thumbs={lab.thumbs}
          busy={lab.busy}
          job={lab.jobs.find((j) => j.origin === 'data')}
          onGenerate={lab.generateData}
          onFiles={lab.loadDatasetFiles}
        />
        <PrunePanel
          config={lab.config}
          setConfig={setConfig}
          criteria={lab.criteria}
          result={lab.pruneResult}
          pruned={Boolean(lab.modelState?.lineage.prune || lab.modelState?.lineage.fineTuneSteps)}
          busy={lab.busy}
          job={lab.jobs.find((j) => j.origin === 'prune')}
          bnRecalibrated={lab.modelState?.lineage.bnRecalibrated ?? 0}
          onPrune={lab.prune}
          onReset={lab.reset}
          onRecalibrate={lab.recalibrateBn}
        />
        <SensitivityPanel
          config={lab.config}
          setConfig={setConfig}
          criteria={lab.criteria}
          hasDataset={Boolean(lab.dataset)}
          busy={lab.busy}
          job={lab.jobs.find((j) => j.label === 'Sensitivity scan')}
          plan={lab.sensitivityPlan}
          scan={lab.sensitivity}
        />
        <FineTunePanel
          config={lab.config}
          setConfig={setConfig}
          ftSplit={lab.ftSplit}
          training={lab.training}
          job={ftJob}
          after={lab.jobs.find((j) => j.origin === 'finetune' && j.id !== ftJob?.id)}
          busy={lab.busy}
          ptl={lab.modelState?.lineage.ptl ?? null}
          modelStateId={lab.modelState?.stateId ?? null}
          ptlPreview={lab.ptlCostPreview}
          onApplySplit={lab.applyFineTuneSplit}
          onStart={lab.fineTune}
          onPause={lab.setPaused}
        />
        <ResultsPanel runs={lab.runs} config={lab.config} setConfig={setConfig} dataset={lab.dataset?.name ?? null} onExport={lab.exportRuns} onClear={lab.clearRuns} />
        <ReproducePanel busy={lab.busy} ready={lab.phase === 'ready'} job={lab.jobs.find((j) => j.id.startsWith('reproduce-'))} run={lab.reproduce} />
        <RankedListsPanel modelState={lab.modelState} dataset={lab.dataset} busy={lab.busy} fetchPage={lab.rankedLists} job={lab.jobs.find((j) => j.origin === 'ranked')} />
      </main>
    </div>
  );
}
