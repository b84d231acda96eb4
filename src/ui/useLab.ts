/**
 * The page's connection to the lab worker and the lab's workflow state: one worker per backend
 * choice (switching backends starts a fresh worker, so no tensor ever changes backend), the
 * model, the dataset and fine-tuning subset, jobs with progress, the runs (persisted), and the
 * messages the banner shows. On start it loads the default model and dataset and scores the
 * baseline without a click, so the chart has its first point when the page settles.
 */
import { startTransition, useCallback, useEffect, useRef, useState } from 'react';
import type {
  BackendChoice,
  BackendStatus,
  CriterionInfo,
  DatasetSummary,
  EvalSummary,
  FineTuneSplitSummary,
  JobProgress,
  LatencyResult,
  ModelState,
  ModelSummary,
  PruneOutcome,
  PtlCostPreview,
  PtlOptions,
  ReproduceRequest,
  ReproduceTick,
  ReproduceView,
  SensitivityOutcome,
  SensitivityPlan,
  SensitivityRequest,
  RankedListsPage,
  RankedListsRequest,
  RestoreOutcome,
  Thumbnail,
  OpenOptions,
  OpenOutcome,
} from '../workers/api';
import { createLabClient, proxyCallback, startJob, type LabClient, type LabRemote } from '../workers/client';
import { clearRuns, downloadFile, keepsExisting, loadRuns, runsToCsv, saveRun, type Run } from './runs';
import { cardDisagreement } from '../engine/eval/card-baseline';
import { checkCriterion, writeConfig, type LabConfig } from './url';
import { quarantineNotice } from './run-record';
import { ActionQueue, type QueueState } from './action-queue';

/** The part of the page whose button started a job: its progress shows there, next to the button. */
export type JobOrigin = 'model' | 'data' | 'prune' | 'finetune' | 'score' | 'sensitivity' | 'ranked' | 'reproduce';

const ORIGIN_OF_KIND: Record<string, JobOrigin> = {
  load: 'model', open: 'model', latency: 'model', synth: 'data', dataset: 'data', prune: 'prune', bnrecal: 'prune',
  finetune: 'finetune', eval: 'score', 'eval-quick': 'score', sensitivity: 'sensitivity', ranked: 'ranked', reproduce: 'reproduce',
};

/** The panel a queued action shows in while it waits (by the label it was queued under). */
const ORIGIN_OF_QUEUED: Record<string, JobOrigin> = {
  'Pruning': 'prune',
  'Recalibrating BatchNorm': 'prune',
  'Fine-tuning': 'finetune',
  'Evaluating': 'score',
  'Quick evaluation': 'score',
  'Opening your model': 'model',
  'Reset': 'model',
  'Sensitivity scan': 'sensitivity',
  'Ranking the gallery': 'ranked',
  'Reproducing the paper': 'reproduce',
};

export interface JobView {
  id: string;
  label: string;
  /** Where the job was started (the score after a prune belongs to the Prune panel). */
  origin: JobOrigin;
  fraction: number;
  message: string;
  cancel(): void;
}

export interface Message {
  id: number;
  kind: 'error' | 'notice';
  text: string;
}

export interface TrainingView {
  jobId: string;
  points: { step: number; loss: number }[];
  step: number;
  totalSteps: number;
  etaSec: number;
  imagesPerSec: number;
  paused: boolean;
  running: boolean;
}

/** A .safetensors file opened without saying its last stride: what the lab assumed; the page asks. */
export interface LastStrideQuestion {
  files: File[];
  name: string;
  assumed: 1 | 2;
}

export interface Lab {
  config: LabConfig;
  setConfig(patch: Partial<LabConfig>): void;
  choice: BackendChoice;
  phase: 'starting' | 'ready' | 'failed';
  status: BackendStatus | null;
  model: ModelSummary | null;
  modelState: ModelState | null;
  latency: LatencyResult | null;
  dataset: DatasetSummary | null;
  ftSplit: FineTuneSplitSummary | null;
  thumbs: Thumbnail[];
  criteria: CriterionInfo[];
  lastEval: EvalSummary | null;
  pruneResult: PruneOutcome | null;
  training: TrainingView | null;
  runs: Run[];
  jobs: JobView[];
  busy: boolean;
  messages: Message[];
  setChoice(choice: BackendChoice): void;
  measureLatency(): void;
  generateData(): void;
  loadDatasetFiles(files: { path: string; file: File }[], testIdentities: number): void;
  applyFineTuneSplit(): void;
  /** Full evaluation (every query). */
  evaluate(): void;
  /** Quick evaluation (the queries of a fixed subset of identities, with a 95% interval). */
  evaluateQuick(): void;
  prune(): void;
  reset(): void;
  fineTune(): void;
  /** Re-estimate the current model's BatchNorm statistics on training images (forward only). */
  recalibrateBn(): void;
  setPaused(paused: boolean): void;
  openModel(files: File[], opts?: OpenOptions): void;
  /** The open question about a .safetensors file's last stride, if any. */
  lastStrideQuestion: LastStrideQuestion | null;
  /** Keep the assumed last stride (null or the same value) or open the file again with the other. */
  answerLastStride(stride: 1 | 2 | null): void;
  exportModel(format: 'tfjs' | 'safetensors'): void;
  clearRuns(): void;
  exportRuns(format: 'csv' | 'json'): void;
  /** What a PTL branch with these settings would add to the current model (null: no model yet). */
  ptlCostPreview(opts: PtlOptions): Promise<PtlCostPreview | null>;
  /** What a sensitivity scan would cost (null if it cannot run: the banner says why). */
  sensitivityPlan(req: SensitivityRequest): Promise<SensitivityPlan | null>;
  /** A sensitivity scan as a job ("Sensitivity scan"); null if it failed or was cancelled. */
  sensitivity(req: SensitivityRequest): Promise<SensitivityOutcome | null>;
  dismiss(id: number): void;
  /** The Reproduce view's quick reproduction as a job ("Reproducing the paper"); null if it failed (the banner says why). */
  reproduce(req: ReproduceRequest, onTick: (t: ReproduceTick) => void): Promise<ReproduceView | null>;
  /** A page of ranked lists (dense and current model) as a job; null if it failed (the banner says why) or was cancelled. */
  rankedLists(req: RankedListsRequest): Promise<RankedListsPage | null>;
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
/** Runs of this page load get ids of their own; baselines are shared across loads (same numbers). */
const SESSION = `${Date.now().toString(36)}-${Math.floor(performance.now() * 1000).toString(36)}`;

/** A sentence for the banner, whatever was thrown. LabErrors already are sentences. */
export function errorSentence(e: unknown): string {
  if (e instanceof Error) {
    if ((e as { code?: string }).code) return e.message;
    return `Something went wrong in the lab: ${e.message}`;
  }
  return `Something went wrong in the lab: ${String(e)}`;
}

/** Why a run could not be written to IndexedDB, and what the user keeps and can do. */
export function storageFailureSentence(e: unknown): string {
  const name = (e as { name?: string } | null)?.name ?? '';
  const why =
    name === 'QuotaExceededError'
      ? 'the browser\u2019s storage for this site is full (QuotaExceededError)'
      : `the browser refused to store it (${e instanceof Error || e instanceof DOMException ? `${name || 'Error'}: ${(e as Error).message}` : String(e)})`;
  return `The run could not be saved for your next visit: ${why}. It stays on the chart until the page closes; export the runs as CSV or JSON to keep them, or free some space.`;
}

function isCancelled(e: unknown): boolean {
  return (e as { code?: string } | null)?.code === 'cancelled';
}

export function runFrom(state: ModelState, ev: EvalSummary, backend: string): Run {
  const { lineage, summary } = state;
  const kind: Run['kind'] = lineage.fineTuneSteps > 0 ? 'fine-tuned' : lineage.prune ? 'pruned' : 'baseline';
  const p = lineage.prune;
  return {
    // A state's key outlives its worker (a restored model keeps it), so its run is updated, not doubled.
    id: kind === 'baseline' ? `baseline|${lineage.base}|${lineage.baseSource}|${ev.dataset}` : state.key ? `${state.key}|${ev.dataset}` : `${SESSION}|${state.stateId}|${ev.dataset}`,
    createdAt: Date.now(),
    kind,
    model: lineage.base,
    modelSource: lineage.baseSource,
    dataset: ev.dataset,
    backend,
    criterion: p?.criterion ?? null,
    criterionName: p?.criterionName ?? null,
    strategy: p?.strategy ?? null,
    rate: p ? p.removedFraction : null,
    scope: p?.scope ?? null,
    ranking: p?.ranking ?? null,
    // A PTL model is evaluated with its side branch, so its run costs backbone + branch.
    macs: summary.macs + (lineage.ptl?.branchMacs ?? 0),
    params: summary.params + (lineage.ptl?.branchParams ?? 0),
    latencyMs: state.latency?.medianMs ?? null,
    latencyP10: state.latency?.p10Ms ?? null,
    latencyP90: state.latency?.p90Ms ?? null,
    mAP: ev.mAP,
    rank1: ev.rank1,
    rank5: ev.rank5,
    fineTuneSteps: lineage.fineTuneSteps,
    bnRecalibrated: lineage.bnRecalibrated ?? 0,
    ptl: Boolean(lineage.ptl),
    branchMacs: lineage.ptl?.branchMacs ?? null,
    branchParams: lineage.ptl?.branchParams ?? null,
    ...(ev.source === 'card' ? { source: 'card' as const } : {}),
    evaluation: ev.kind,
    mAPLow: ev.interval?.mAP[0] ?? null,
    mAPHigh: ev.interval?.mAP[1] ?? null,
    rank1Low: ev.interval?.rank1[0] ?? null,
    rank1High: ev.interval?.rank1[1] ?? null,
  };
}

export function useLab(initial: LabConfig, initialMessages: string[] = []): Lab {
  const [config, setConfigState] = useState<LabConfig>(initial);
  const configRef = useRef(config);
  configRef.current = config;
  const [phase, setPhase] = useState<Lab['phase']>('starting');
  const [status, setStatus] = useState<BackendStatus | null>(null);
  const [modelState, setModelState] = useState<ModelState | null>(null);
  const [dataset, setDataset] = useState<DatasetSummary | null>(null);
  const [ftSplit, setFtSplit] = useState<FineTuneSplitSummary | null>(null);
  const [thumbs, setThumbs] = useState<Thumbnail[]>([]);
  const [criteria, setCriteria] = useState<CriterionInfo[]>([]);
  const [lastEval, setLastEval] = useState<EvalSummary | null>(null);
  const [pruneResult, setPruneResult] = useState<PruneOutcome | null>(null);
  const [training, setTraining] = useState<TrainingView | null>(null);
  const [lastStrideQuestion, setLastStrideQuestion] = useState<LastStrideQuestion | null>(null);
  const [runs, setRuns] = useState<Run[]>([]);
  const [jobs, setJobs] = useState<JobView[]>([]);
  const [messages, setMessages] = useState<Message[]>(() => initialMessages.map((text) => ({ id: ++messageCounter, kind: 'error', text })));
  // User actions run one after another (action-queue.ts); what waits shows as a job that can be cancelled.
  const [queueState, setQueueState] = useState<QueueState>({ active: null, waiting: [] });
  const queueRef = useRef<ActionQueue | null>(null);
  // Not a transition: the busy flag must flip at once, so no click slips through as 'idle'.
  queueRef.current ??= new ActionQueue(setQueueState);
  const queue = queueRef.current;
  const clientRef = useRef<LabClient | null>(null);
  // Worker crashes: each one starts a new worker (workerGen), which restores the saved model.
  const [workerGen, setWorkerGen] = useState(0);
  const crashTimes = useRef<number[]>([]);
  /** Set while a new worker replaces a dead one: what happened, for the restore notice. */
  const recovering = useRef<string | null>(null);
  const lastFiles = useRef<{ files: { path: string; file: File }[]; testIdentities: number } | null>(null);
  const statusRef = useRef<BackendStatus | null>(null);
  const stateRef = useRef<ModelState | null>(null);
  stateRef.current = modelState;
  const datasetRef = useRef<DatasetSummary | null>(null);
  datasetRef.current = dataset;
  /** The baseline run shown from the model card, until Evaluate measures it here. */
  const cardRun = useRef<{ id: string; ev: EvalSummary } | null>(null);

  const say = useCallback((kind: Message['kind'], text: string) => {
    setMessages((m) => (m.some((x) => x.text === text) ? m : [...m, { id: ++messageCounter, kind, text }]));
  }, []);

  const setConfig = useCallback((patch: Partial<LabConfig>) => {
    setConfigState((c) => {
      const next = { ...c, ...patch };
      writeConfig(next);
      return next;
    });
  }, []);

  useEffect(() => {
    loadRuns().then(
      ({ runs: stored, quarantined }) => {
        setRuns((rs) => [...stored.filter((s) => !rs.some((r) => r.id === s.id)), ...rs]);
        const notice = quarantineNotice(quarantined);
        if (notice) say('notice', notice);
      },
      () => say('notice', 'Runs cannot be kept between visits here (IndexedDB is not available); they stay until the page closes.'),
    );
  }, [say]);

  const runsRef = useRef<Run[]>([]);
  runsRef.current = runs;
  const recordRun = useCallback(
    (run: Run) => {
      // A quick score of a state that already has its full score leaves the run as it is.
      if (keepsExisting(runsRef.current.find((r) => r.id === run.id), run)) return;
      startTransition(() => setRuns((rs) => {
        const i = rs.findIndex((r) => r.id === run.id);
        if (i < 0) return [...rs, run];
        const copy = [...rs];
        copy[i] = { ...run, createdAt: rs[i].createdAt };
        return copy;
      }));
      // A full disk or quota is the user's business: say so, the run itself stays on the chart.
      saveRun(run).catch((e) => say('error', storageFailureSentence(e)));
    },
    [say],
  );

  /**
   * Run one worker job with a progress entry that disappears when it settles. Errors become
   * banner sentences (a cancel a notice) and the promise resolves to null.
   */
  const run = useCallback(
    async <T,>(label: string, kind: string, call: (api: LabRemote, id: string, p: (e: JobProgress) => void) => Promise<T>, onEvent?: (e: JobProgress) => void, origin?: JobOrigin): Promise<T | null> => {
      const client = clientRef.current;
      if (!client) return null;
      // Progress renders as a transition: React slices the work, so the page never stalls on it.
      const job = startJob(client.api, kind, (id, p) => call(client.api, id, p), (p) =>
        startTransition(() => {
          setJobs((js) => js.map((j) => (j.id === p.jobId ? { ...j, fraction: p.fraction, message: p.message } : j)));
          onEvent?.(p);
        }),
      );
      startTransition(() => setJobs((js) => [...js, { id: job.id, label, origin: origin ?? ORIGIN_OF_KIND[kind] ?? 'score', fraction: 0, message: '', cancel: () => void job.cancel() }]));
      try {
        // A dead or replaced worker never answers: its end ends the call (the crash handler speaks for a crash).
        const gone = (m: string) => Promise.reject(Object.assign(new Error(m), { code: 'worker-crashed' }));
        return await Promise.race([job.result, client.died.then(gone), client.closed.then(() => gone('The worker was replaced.'))]);
      } catch (e) {
        if (clientRef.current !== client || (e as { code?: string }).code === 'worker-crashed') return null;
        if (isCancelled(e)) say('notice', `${label} was cancelled.`);
        else say('error', errorSentence(e));
        return null;
      } finally {
        startTransition(() => setJobs((js) => js.filter((j) => j.id !== job.id)));
      }
    },
    [say],
  );

  const refreshState = useCallback(async () => {
    const st = await clientRef.current?.api.modelState();
    if (st) startTransition(() => setModelState(st));
    return st ?? null;
  }, []);

  /** Quick by default (seconds); 'full' scores every query and replaces the quick score in the run. */
  const evaluateNow = useCallback(async (kind: 'quick' | 'full' = 'quick', origin?: JobOrigin) => {
    const ev = await run(kind === 'quick' ? 'Quick evaluation' : 'Full evaluation', kind === 'quick' ? 'eval-quick' : 'eval', (api, id, p) => api.evaluate(id, p, kind), undefined, origin);
    const st = await refreshState();
    if (!ev || !st) return null;
    startTransition(() => setLastEval(ev));
    const measured = runFrom(st, ev, statusRef.current?.name ?? '');
    // The live full numbers replace the card's; they must agree to rounding (the benchmark is deterministic).
    const card = cardRun.current;
    if (card && card.id === measured.id && ev.kind === 'full') {
      cardRun.current = null;
      const off = cardDisagreement({ ...card.ev, numQueries: card.ev.numValidQueries }, ev);
      if (off) say('notice', off);
    }
    recordRun(measured);
    return ev;
  }, [run, refreshState, recordRun, say]);

  /** First impression: the dense zoo model's baseline from its card, if it was computed on exactly this dataset. */
  const cardBaselineNow = useCallback(async () => {
    const out = await clientRef.current?.api.cardBaseline().catch(() => null);
    const st = out?.kind === 'card' ? await refreshState() : null;
    if (!out || out.kind !== 'card' || !st) return null;
    const r = runFrom(st, out.eval, 'model card');
    cardRun.current = { id: r.id, ev: out.eval };
    startTransition(() => setLastEval(out.eval));
    recordRun(r);
    return out.eval;
  }, [refreshState, recordRun]);

  const afterDataset = useCallback(
    async (d: DatasetSummary | null) => {
      const client = clientRef.current;
      if (!client || !d) return false;
      setDataset(d);
      setLastEval(null);
      client.api.thumbnails(4, 4).then(setThumbs, () => setThumbs([]));
      const c = configRef.current;
      try {
        setFtSplit(await client.api.setFineTuneSplit({ identities: c.ftIds, imagesPerIdentity: c.ftPerId, seed: c.ftSeed }));
      } catch (e) {
        setFtSplit(null);
        say('error', errorSentence(e));
      }
      return true;
    },
    [say],
  );

  const generate = useCallback(async () => {
    const c = configRef.current;
    const d = await run(`Generating SynthReID-${c.tier}`, 'synth', (api, id, p) =>
      api.generateSynth({ tier: c.tier, domain: c.domain, shift: c.shift, seed: c.dataSeed }, id, p),
    );
    return afterDataset(d);
  }, [run, afterDataset]);

  useEffect(() => {
    let live = true;
    const client = createLabClient((msg) => {
      if (!live) return;
      const now = Date.now();
      crashTimes.current = [...crashTimes.current.filter((t) => now - t < 60_000), now];
      if (crashTimes.current.length > 3) {
        say('error', `${msg} It stopped again and again within a minute, so the lab stopped restarting it; reload the page.`);
        setPhase('failed');
        return;
      }
      recovering.current = 'before the crash';
      say('error', `${msg} The lab started a new worker and loads the model, the dataset and your current model again.`);
      setWorkerGen((g) => g + 1);
    });
    clientRef.current = client;
    window.__lab = client.api;
    window.__labProxy = proxyCallback;
    setPhase('starting');
    setStatus(null);
    setModelState(null);
    setDataset(null);
    setFtSplit(null);
    setThumbs([]);
    setLastEval(null);
    cardRun.current = null;
    setPruneResult(null);
    setTraining(null);
    setJobs([]);
    // Notices explain the previous backend choice; errors stay until dismissed.
    setMessages((m) => m.filter((x) => x.kind === 'error'));
    queue.reset();
    void queue.enqueue('Starting the lab', async () => {
      try {
        const st = await client.api.init(config.backend, config.threads === undefined ? {} : { threads: config.threads });
        if (!live) return;
        setStatus(st);
        statusRef.current = st;
        for (const note of st.notes) say('notice', note);
        // A model that could not be saved (full quota, no IndexedDB) stays loaded; the user hears why.
        void client.api.onModelStore(proxyCallback((e) => live && e.kind === 'failed' && e.message && say('notice', e.message)));
        // A lost GPU takes the model's tensors with it: say so and carry on in a wasm worker.
        if (st.name === 'webgpu') {
          void client.api.onDeviceLost(
            proxyCallback((message: string) => {
              if (!live) return;
              say('error', message);
              recovering.current = 'before the GPU was lost';
              setConfig({ backend: 'wasm' });
            }),
          );
        }
        const summary = await run('Loading the model', 'load', (api, id, p) => api.loadDefaultModel(config.model ? { model: config.model } : {}, id, p));
        if (!live) return;
        if (!summary) {
          setPhase('failed');
          return;
        }
        // The model of the last visit, or from before a crash, if it was pruned from this one.
        const restored: RestoreOutcome = await client.api.restoreSavedModel().catch((e: unknown) => ({ kind: 'ignored', message: errorSentence(e) }) as const);
        if (!live) return;
        if (restored.kind === 'restored') {
          say('notice', `Restored ${restored.what} from ${recovering.current ?? 'your last visit'}: ${restored.description}. Reset goes back to the dense model.`);
        } else if (restored.kind === 'ignored') say('notice', restored.message);
        await refreshState();
        const criteriaList = await client.api.criteria();
        setCriteria(criteriaList);
        // A shared link may name a criterion this lab does not have: say so and show the real default.
        const crit = checkCriterion(configRef.current, criteriaList.map((x) => x.id));
        if (crit.problem) {
          say('error', crit.problem);
          setConfig({ criterion: crit.criterion });
        }
        if (summary.source === 'random') say('notice', `Random weights: the zoo model is not available, so ${summary.name} starts untrained and its accuracy is near chance. Pruning and fine-tuning still work.`);
        setPhase('ready');
        // First impression: dataset, latency and the baseline point, without a click.
        const files = recovering.current ? lastFiles.current : null;
        recovering.current = null;
        if (files) {
          const d = await run('Loading the dataset', 'dataset', (api, id, p) => api.loadDatasetFiles(files.files, { testIdentities: files.testIdentities, seed: 1 }, id, p));
          if (!live || !(await afterDataset(d)) || !live) return;
        } else if (!live || !(await generate()) || !live) return;
        // A matching model card gives the baseline at once; the Evaluate button measures it here.
        const fromCard = await cardBaselineNow();
        if (!live) return;
        const withLatency = await run('Measuring latency', 'latency', (api, id, p) => api.measureStateLatency(id, p));
        if (live && withLatency) setModelState(withLatency);
        if (live && fromCard && withLatency && cardRun.current) recordRun(runFrom(withLatency, fromCard, 'model card'));
        else if (live && !fromCard) await evaluateNow();
      } catch (e) {
        if (!live) return;
        setPhase('failed');
        if (!isCancelled(e)) say('error', errorSentence(e));
      }
    });
    return () => {
      live = false;
      client.terminate();
      if (clientRef.current === client) clientRef.current = null;
      if (window.__lab === client.api) delete window.__lab;
    };
    // A new worker only when the backend or the model changes.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [config.backend, config.threads, config.model, workerGen]);

  const setChoice = useCallback((c: BackendChoice) => setConfig({ backend: c }), [setConfig]);

  const measureLatency = useCallback(() => {
    void queue.enqueue('Measuring latency', () => run('Measuring latency', 'latency', (api, id, p) => api.measureStateLatency(id, p)).then((s) => s && setModelState(s)));
  }, [queue, run]);

  const generateData = useCallback(() => {
    void queue.enqueue('Generating data', async () => {
      lastFiles.current = null;
      if (await generate()) await evaluateNow();
    });
  }, [queue, generate, evaluateNow]);

  const loadDatasetFiles = useCallback(
    (files: { path: string; file: File }[], testIdentities: number) => {
      void queue.enqueue('Loading the dataset', async () => {
        lastFiles.current = { files, testIdentities };
        const d = await run('Loading the dataset', 'dataset', (api, id, p) => api.loadDatasetFiles(files, { testIdentities, seed: 1 }, id, p));
        if (await afterDataset(d)) await evaluateNow();
      });
    },
    [queue, run, afterDataset, evaluateNow],
  );

  const applyFineTuneSplit = useCallback(() => {
    const client = clientRef.current;
    if (!client || !datasetRef.current) return;
    const c = configRef.current;
    client.api.setFineTuneSplit({ identities: c.ftIds, imagesPerIdentity: c.ftPerId, seed: c.ftSeed }).then(setFtSplit, (e) => say('error', errorSentence(e)));
  }, [say]);

  const evaluate = useCallback(() => void queue.enqueue('Evaluating', () => evaluateNow('full')), [queue, evaluateNow]);
  const evaluateQuick = useCallback(() => void queue.enqueue('Quick evaluation', () => evaluateNow('quick')), [queue, evaluateNow]);

  const prune = useCallback(() => {
    void queue.enqueue('Pruning', async () => {
      const c = configRef.current;
      const out = await run('Pruning', 'prune', (api, id, p) =>
        api.prune(
          {
            criterion: c.criterion,
            target: c.targetKind === 'rate' ? { kind: 'rate', rate: c.rate } : { kind: 'macs', keep: c.macsKeep },
            scope: c.scope,
            ranking: c.ranking,
            strategy: c.strategy,
            seed: c.pruneSeed,
            lr: c.lr,
            ...(c.pruneBn ? { recalibrateBn: true } : {}),
          },
          id,
          p,
        ),
      );
      if (!out) return;
      startTransition(() => {
        setPruneResult(out);
        setModelState(out.state);
        setLastEval(null);
      });
      if (out.state.lineage.prune?.message) say('notice', out.state.lineage.prune.message);
      if (datasetRef.current) await evaluateNow('quick', 'prune');
    });
  }, [queue, run, say, evaluateNow]);

  const reset = useCallback(() => {
    void queue.enqueue('Reset', async () => {
      const client = clientRef.current;
      if (!client) return;
      await client.api.resetModel().then(
        (s) => {
          setModelState(s);
          setPruneResult(null);
          setTraining(null);
          setLastEval(null);
        },
        (e) => say('error', errorSentence(e)),
      );
    });
  }, [queue, say]);

  const fineTune = useCallback(() => {
    void queue.enqueue('Fine-tuning', async () => {
      const c = configRef.current;
      // Asked of the worker: after a queued prune the page's copy may not have re-rendered yet.
      const before = (await clientRef.current?.api.modelState())?.stateId;
      let jobId = '';
      const out = await run(
        'Fine-tuning',
        'finetune',
        (api, id, p) => {
          jobId = id;
          startTransition(() => setTraining({ jobId: id, points: [], step: 0, totalSteps: c.steps, etaSec: NaN, imagesPerSec: 0, paused: false, running: true }));
          const ptl = c.ptl ? { ...(c.ptlRatio !== undefined ? { cellRatio: c.ptlRatio } : {}), ...(c.ptlFuse ? { fuseInto: c.ptlFuse } : {}) } : undefined;
          return api.fineTune({ steps: c.steps, lr: c.lr, seed: c.trainSeed, ...(ptl ? { ptl } : c.trainFrom > 0 ? { trainFromStage: c.trainFrom } : {}), ...(c.bnRecal ? { recalibrateBn: true } : {}) }, id, p);
        },
        (e) => {
          const t = e.train;
          if (!t) return;
          setTraining((v) =>
            v && v.jobId === e.jobId
              ? { ...v, points: t.points.length ? [...v.points, ...t.points] : v.points, step: t.step, totalSteps: t.totalSteps, etaSec: t.etaSec, imagesPerSec: t.imagesPerSec || v.imagesPerSec, paused: t.paused }
              : v,
          );
        },
      );
      // Progress reports are throttled, so the last one may predate the final step: the outcome
      // says how many steps were done.
      startTransition(() => setTraining((v) => (v && v.jobId === jobId ? { ...v, step: out ? out.steps : v.step, running: false, paused: false } : v)));
      const st = await refreshState();
      // Scored when it made a new model (all steps, or a cancel that kept some); a failure leaves the model as it was.
      if (out || (st && st.stateId !== before)) await evaluateNow('quick', 'finetune');
    });
  }, [queue, run, refreshState, evaluateNow]);

  /** Re-estimate BatchNorm statistics on training images (forward only), then a quick score. */
  const recalibrateBn = useCallback(() => {
    void queue.enqueue('Recalibrating BatchNorm', async () => {
      const c = configRef.current;
      const out = await run('Recalibrating BatchNorm', 'bnrecal', (api, id, p) => api.recalibrateBn({ seed: c.trainSeed }, id, p));
      if (!out) return;
      startTransition(() => {
        setModelState(out.state);
        setLastEval(null);
      });
      if (datasetRef.current) await evaluateNow('quick', 'prune');
    });
  }, [queue, run, evaluateNow]);

  const setPaused = useCallback(
    (paused: boolean) => {
      const client = clientRef.current;
      if (!client || !training?.running) return;
      void client.api.setPaused(training.jobId, paused);
      setTraining((v) => (v ? { ...v, paused } : v));
    },
    [training],
  );

  const openModel = useCallback(
    (files: File[], opts: OpenOptions = {}) => {
      void queue.enqueue('Opening your model', async () => {
        setLastStrideQuestion(null);
        const out: OpenOutcome | null = await run('Opening your model', 'open', (api, id, p) => api.openModelFiles(files, id, p, opts) as Promise<OpenOutcome>);
        if (!out) return;
        if (out.kind === 'plan') {
          // A plan applies to the dense model: the same as a prune, then scored.
          startTransition(() => {
            setPruneResult(out.prune);
            setModelState(out.prune.state);
            setLastEval(null);
          });
          if (out.prune.state.lineage.prune?.message) say('notice', out.prune.state.lineage.prune.message);
          if (datasetRef.current) await evaluateNow();
          return;
        }
        const st = out.state;
        for (const note of out.notes) say('notice', note);
        if (out.lastStrideAssumed) setLastStrideQuestion({ files, name: files[0]?.name ?? 'The file', assumed: out.lastStrideAssumed });
        setModelState(st);
        setPruneResult(null);
        setTraining(null);
        setLastEval(null);
        const d = datasetRef.current;
        const sameSize = d && d.height === st.summary.input.height && d.width === st.summary.input.width;
        if (d && !sameSize) {
          if (d.kind === 'synth') await generate();
          else {
            say('notice', `Your model expects ${st.summary.input.height}×${st.summary.input.width} images; load the dataset again so it is resized to that.`);
            return;
          }
        }
        await run('Measuring latency', 'latency', (api, id, p) => api.measureStateLatency(id, p)).then((s) => s && setModelState(s));
        if (datasetRef.current) await evaluateNow();
      });
    },
    [queue, run, say, generate, evaluateNow],
  );

  const answerLastStride = useCallback(
    (stride: 1 | 2 | null) => {
      const q = lastStrideQuestion;
      setLastStrideQuestion(null);
      if (q && stride !== null && stride !== q.assumed) openModel(q.files, { lastStride: stride });
    },
    [lastStrideQuestion, openModel],
  );

  const exportModel = useCallback(
    (format: 'tfjs' | 'safetensors') => {
      const client = clientRef.current;
      const st = stateRef.current;
      if (!client || !st) return;
      const p = st.lineage.prune;
      const name = [st.lineage.base, p ? `${p.criterion}-${Math.round(p.removedFraction * 100)}pct` : 'dense', st.lineage.fineTuneSteps ? `ft${st.lineage.fineTuneSteps}` : '']
        .filter(Boolean)
        .join('-')
        .replace(/[^A-Za-z0-9._-]/g, '_');
      client.api.exportModel(format, name).then(
        (out) => {
          for (const f of out.files) downloadFile(f.name, f.bytes, f.name.endsWith('.json') ? 'application/json' : 'application/octet-stream');
          say('notice', `Saved ${out.files.map((f) => f.name).join(', ')} to your downloads.`);
        },
        (e) => say('error', errorSentence(e)),
      );
    },
    [say],
  );

  const clearAllRuns = useCallback(() => {
    setRuns([]);
    clearRuns().catch(() => {});
  }, []);

  const exportRuns = useCallback(
    (format: 'csv' | 'json') => {
      if (format === 'csv') downloadFile('prunability-runs.csv', runsToCsv(runs), 'text/csv');
      else downloadFile('prunability-runs.json', JSON.stringify(runs, null, 2), 'application/json');
    },
    [runs],
  );

  const dismiss = useCallback((id: number) => setMessages((m) => m.filter((x) => x.id !== id)), []);

  const reproduce = useCallback(
    (req: ReproduceRequest, onTick: (t: ReproduceTick) => void) =>
      queue.enqueue('Reproducing the paper', () => run('Reproducing the paper', 'reproduce', (api, id, p) => api.reproduce(req, id, p, proxyCallback(onTick)))),
    [queue, run],
  );

  const ptlCostPreview = useCallback(async (opts: PtlOptions) => {
    const client = clientRef.current;
    return client ? client.api.ptlCostPreview(opts).catch(() => null) : null;
  }, []);
  const sensitivityPlan = useCallback(async (req: SensitivityRequest) => {
    const client = clientRef.current;
    if (!client) return null;
    try {
      return await client.api.sensitivityPlan(req);
    } catch (e) {
      say('error', errorSentence(e));
      return null;
    }
  }, [say]);
  const sensitivity = useCallback((req: SensitivityRequest) => queue.enqueue('Sensitivity scan', () => run('Sensitivity scan', 'sensitivity', (api, id, p) => api.sensitivity(req, id, p))), [queue, run]);

  const rankedLists = useCallback((req: RankedListsRequest) => queue.enqueue('Ranking the gallery', () => run('Ranking the gallery', 'ranked', (api, id, p) => api.rankedLists(req, id, p))), [queue, run]);

  // Waiting actions show as jobs of their own (cancel drops them before they start).
  const waitingJobs: JobView[] = queueState.waiting.map((w) => ({
    id: w.id,
    label: `${w.label} (queued)`,
    origin: ORIGIN_OF_QUEUED[w.label] ?? 'score',
    fraction: 0,
    message: 'starts when the job before it has finished',
    cancel: () => void queue.cancel(w.id),
  }));

  return {
    config,
    setConfig,
    choice: config.backend,
    phase,
    status,
    model: modelState?.summary ?? null,
    modelState,
    latency: modelState?.latency ?? null,
    dataset,
    ftSplit,
    thumbs,
    criteria,
    lastEval,
    pruneResult,
    training,
    runs,
    jobs: waitingJobs.length ? [...jobs, ...waitingJobs] : jobs,
    busy: jobs.length > 0 || queueState.active !== null || queueState.waiting.length > 0 || phase !== 'ready',
    messages,
    setChoice,
    measureLatency,
    generateData,
    loadDatasetFiles,
    applyFineTuneSplit,
    evaluate,
    evaluateQuick,
    prune,
    reset,
    fineTune,
    recalibrateBn,
    setPaused,
    openModel,
    lastStrideQuestion,
    answerLastStride,
    exportModel,
    clearRuns: clearAllRuns,
    exportRuns,
    dismiss,
    reproduce,
    sensitivityPlan,
    sensitivity,
    ptlCostPreview,
    rankedLists,
  };
}
