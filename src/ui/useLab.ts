/**
 * The page's connection to the lab worker: one worker per backend choice (switching backends
 * starts a fresh worker, so no tensor ever changes backend), the backend status, the loaded
 * model, running jobs and the messages the banner shows.
 */
import { useCallback, useEffect, useRef, useState } from 'react';
import type { BackendChoice, BackendStatus, JobProgress, LatencyResult, ModelSummary } from '../workers/api';
import { createLabClient, proxyCallback, startJob, type LabClient, type LabRemote, type RunningJob } from '../workers/client';
import { writeBackendParam } from './url';

export interface JobView {
  id: string;
  label: string;
  fraction: number;
  message: string;
  cancel(): void;
}

export interface Message {
  id: number;
  kind: 'error' | 'notice';
  text: string;
}

export interface Lab {
  choice: BackendChoice;
  phase: 'starting' | 'ready' | 'failed';
  status: BackendStatus | null;
  model: ModelSummary | null;
  latency: LatencyResult | null;
  jobs: JobView[];
  messages: Message[];
  setChoice(choice: BackendChoice): void;
  measureLatency(): void;
  dismiss(id: number): void;
}

declare global {
  interface Window {
    /** The worker's API, for end-to-end tests and the curious (devtools). */
    __lab?: LabRemote;
    /** Wraps a callback so it can be passed to __lab (e.g. a progress listener). */
    __labProxy?: typeof proxyCallback;
  }
}

let messageCounter = 0;

/** A sentence for the banner, whatever was thrown. LabErrors already are sentences. */
export function errorSentence(e: unknown): string {
  if (e instanceof Error) {
    if ((e as { code?: string }).code) return e.message;
    return `Something went wrong in the lab: ${e.message}`;
  }
  return `Something went wrong in the lab: ${String(e)}`;
}

function isCancelled(e: unknown): boolean {
  return (e as { code?: string } | null)?.code === 'cancelled';
}

export function useLab(initialChoice: BackendChoice, modelName: string | undefined, initialMessages: string[] = []): Lab {
  const [choice, setChoiceState] = useState<BackendChoice>(initialChoice);
  const [phase, setPhase] = useState<Lab['phase']>('starting');
  const [status, setStatus] = useState<BackendStatus | null>(null);
  const [model, setModel] = useState<ModelSummary | null>(null);
  const [latency, setLatency] = useState<LatencyResult | null>(null);
  const [jobs, setJobs] = useState<JobView[]>([]);
  const [messages, setMessages] = useState<Message[]>(() => initialMessages.map((text) => ({ id: ++messageCounter, kind: 'error', text })));
  const clientRef = useRef<LabClient | null>(null);

  const say = useCallback((kind: Message['kind'], text: string) => {
    setMessages((m) => (m.some((x) => x.text === text) ? m : [...m, { id: ++messageCounter, kind, text }]));
  }, []);

  /** Run a worker job with a progress entry that disappears when it settles. */
  const track = useCallback(<T,>(label: string, job: RunningJob<T>): Promise<T> => {
    const view: JobView = { id: job.id, label, fraction: 0, message: '', cancel: () => void job.cancel() };
    setJobs((js) => [...js, view]);
    return job.result.finally(() => setJobs((js) => js.filter((j) => j.id !== job.id)));
  }, []);

  const onProgress = useCallback((p: JobProgress) => {
    setJobs((js) => js.map((j) => (j.id === p.jobId ? { ...j, fraction: p.fraction, message: p.message } : j)));
  }, []);

  useEffect(() => {
    let live = true;
    const client = createLabClient((msg) => live && say('error', msg));
    clientRef.current = client;
    window.__lab = client.api;
    window.__labProxy = proxyCallback;
    setPhase('starting');
    setStatus(null);
    setModel(null);
    setLatency(null);
    setJobs([]);
    // Notices explain the previous backend choice; errors stay until dismissed.
    setMessages((m) => m.filter((x) => x.kind === 'error'));
    (async () => {
      try {
        const st = await client.api.init(choice);
        if (!live) return;
        setStatus(st);
        for (const note of st.notes) say('notice', note);
        const summary = await track(
          'Loading the model',
          startJob(client.api, 'load', (id, p) => client.api.loadDefaultModel(modelName ? { model: modelName } : {}, id, p), onProgress),
        );
        if (!live) return;
        setModel(summary);
        setPhase('ready');
      } catch (e) {
        if (!live) return;
        setPhase('failed');
        if (!isCancelled(e)) say('error', errorSentence(e));
      }
    })();
    return () => {
      live = false;
      client.terminate();
      if (clientRef.current === client) clientRef.current = null;
      if (window.__lab === client.api) delete window.__lab;
    };
  }, [choice, modelName, say, track, onProgress]);

  const setChoice = useCallback((c: BackendChoice) => {
    writeBackendParam(c);
    setChoiceState(c);
  }, []);

  const measureLatency = useCallback(() => {
    const client = clientRef.current;
    if (!client) return;
    setLatency(null);
    track('Measuring latency', startJob(client.api, 'latency', (id, p) => client.api.measureLatency({ batch: 1, runs: 10, warmup: 2 }, id, p), onProgress))
      .then((r) => clientRef.current === client && setLatency(r))
      .catch((e) => {
        if (clientRef.current !== client) return;
        if (isCancelled(e)) say('notice', 'Latency measurement cancelled.');
        else say('error', errorSentence(e));
      });
  }, [track, onProgress, say]);

  const dismiss = useCallback((id: number) => setMessages((m) => m.filter((x) => x.id !== id)), []);

  return { choice, phase, status, model, latency, jobs, messages, setChoice, measureLatency, dismiss };
}
