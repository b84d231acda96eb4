/**
 * `lab train`: train a ReID ResNet from scratch (or continue a run), write a model folder with
 * model.json + float16 shards + card.json. Resumable: a full checkpoint is written every
 * --checkpoint-every steps to runs/<name>/checkpoint.ckpt; `--resume` continues from it (or from
 * a compact, committed checkpoint given with --resume-from, whose optimiser moments restart).
 */
import { promises as fs, existsSync } from 'node:fs';
import * as path from 'node:path';
import * as os from 'node:os';
import * as tf from '@tensorflow/tfjs';
import { buildSpec, type Depth } from '../../engine/model/spec';
import { ReidModel } from '../../engine/model/model';
import { train, type TrainProgress } from '../../engine/train/trainer';
import { resolveTrainConfig } from '../../engine/train/config';
import { deserializeCheckpoint, serializeCheckpoint, type TrainCheckpoint } from '../../engine/train/checkpoint';
import { labelMap } from '../../engine/train/identities';
import { loadModelFromFolder, saveModelToFolder, MODEL_JSON } from '../../node/model-files';
import { checkOutputFile, checkOutputFolder, writeFolderAtomically } from '../../node/output-folder';
import { readBounded, readTextBounded } from '../../node/bounded-read';

/** A checkpoint holds parameters, Adam's two moments and the classifier: ResNet-50 x2 is ~1.4 GB. */
const MAX_CHECKPOINT_BYTES = 2 ** 31;
import { resolveDataset } from '../data';
import { ProgressBar, formatSeconds } from '../progress';
import { bool, num, oneOf, optStr, str, type Flags } from '../args';
import { writeCard } from '../card';
import { isLabError } from '../../engine/errors';

/** Write a run file whole: a temporary sibling renamed over it (its folder already made). */
async function writeAtomic(file: string, bytes: Uint8Array): Promise<void> {
  const tmp = `${file}.tmp`;
  await fs.writeFile(tmp, bytes);
  await fs.rename(tmp, file);
}

/** A checkpoint small enough to commit: float16 parameters, no optimiser moments. */
export function compactCheckpoint(c: TrainCheckpoint): Uint8Array {
  return serializeCheckpoint({ ...c, optimizer: { ...c.optimizer, slots: {} } }, { paramsFloat16: true });
}

export async function trainCommand(flags: Flags, argv: string[]): Promise<void> {
  const depth = Number(oneOf(flags, 'depth', ['18', '34', '50'], '50')) as Depth;
  const width = num(flags, 'width', 0.5, { min: 0.0625, max: 2 });
  const height = num(flags, 'height', 128, { integer: true, min: 32 });
  const imgWidth = num(flags, 'img-width', 64, { integer: true, min: 16 });
  const seed = num(flags, 'seed', 1, { integer: true, min: 0 });
  const steps = num(flags, 'steps', 2000, { integer: true, min: 1 });
  const out = await checkOutputFolder(str(flags, 'out'), MODEL_JSON);
  const name = path.basename(out.dir);
  const runDir = optStr(flags, 'run-dir') ?? path.join('runs', name);
  const ckptFile = path.join(runDir, 'checkpoint.ckpt');
  // Checked now like --out, not after training: a recursive mkdir under /proc never returns.
  const makeRunDir = await checkOutputFile(ckptFile, '--run-dir');
  const every = num(flags, 'checkpoint-every', 50, { integer: true, min: 1 });
  // Stop cleanly at the first checkpoint after this many minutes, so the exported model and the
  // checkpoint agree and a later session can --resume (sessions here end at a hard limit).
  const budgetMin = num(flags, 'time-budget', Infinity, { min: 0 });

  await tf.ready();
  const { dataset, describe } = await resolveDataset(flags, { height, width: imgWidth }, { domain: 'source' });
  const numClasses = labelMap(dataset.train.pids).ids.length;
  const spec = buildSpec({ depth, widthMultiplier: width, inputHeight: height, inputWidth: imgWidth, lastStride: 1, bnneck: true, numClasses });
  const config = resolveTrainConfig({
    steps,
    seed,
    p: num(flags, 'p', 16, { integer: true, min: 2 }),
    k: num(flags, 'k', 4, { integer: true, min: 1 }),
    optimizer: { kind: 'adam', lr: num(flags, 'lr', 3.5e-4, { min: 0 }) },
    schedule: { warmupSteps: num(flags, 'warmup', Math.min(200, Math.round(steps / 10)), { integer: true, min: 0 }) },
  });

  let resume: TrainCheckpoint | undefined;
  const resumeFrom = optStr(flags, 'resume-from') ?? (bool(flags, 'resume') && existsSync(ckptFile) ? ckptFile : undefined);
  if (resumeFrom) {
    resume = deserializeCheckpoint(
      await readBounded(resumeFrom, MAX_CHECKPOINT_BYTES, 'bad-argument', {
        missing: `The checkpoint ${resumeFrom} does not exist or cannot be read.`,
        tooBig: (n) => `The checkpoint ${resumeFrom} has at least ${n} bytes, more than the ${MAX_CHECKPOINT_BYTES} a training checkpoint can have; is it the right file?`,
      }),
    );
    if (Object.keys(resume.optimizer.slots).length === 0) resume = { ...resume, optimizer: { ...resume.optimizer, step: 0 } };
    resume = { ...resume, config };
    process.stderr.write(`Resuming from ${resumeFrom} at step ${resume.step}.\n`);
  }
  const previousWall = resume ? await readWallSeconds(runDir, out.dir) : 0;

  const model = ReidModel.init(spec, seed, { zeroInitResidual: true });
  const bar = new ProgressBar(`train ResNet-${depth} x${width}`, steps, process.stderr, resume?.step ?? 0);
  const started = Date.now();
  let last: TrainProgress | undefined;
  const deadline = started + budgetMin * 60_000;
  const stop = { aborted: false };
  let result: Awaited<ReturnType<typeof train>> | undefined;
  let stepsDone = steps;
  try {
  result = await train(model, dataset.train, config, {
    signal: stop,
    progressIntervalMs: 1000,
    onProgress: (p) => {
      last = p;
      bar.update(p.step, `loss ${p.loss.toFixed(3)} (tri ${p.triplet.toFixed(3)}, id ${p.id.toFixed(3)}) ${p.imagesPerSec.toFixed(1)} img/s`);
    },
    checkpointEvery: every,
    onCheckpoint: async (c) => {
      await makeRunDir();
      await writeAtomic(ckptFile, serializeCheckpoint(c));
      await writeAtomic(path.join(runDir, 'compact.ckpt'), compactCheckpoint(c));
      await fs.writeFile(path.join(runDir, 'wall.json'), JSON.stringify({ seconds: previousWall + (Date.now() - started) / 1000, step: c.step }));
      if (Date.now() > deadline && c.step < steps) {
        stop.aborted = true;
        stepsDone = c.step;
      }
    },
  }, { resume });
  } catch (e) {
    if (!(isLabError(e, 'cancelled') && stop.aborted)) throw e;
    process.stderr.write(`\nTime budget reached: stopped after step ${stepsDone} of ${steps} (checkpoint saved; continue with --resume).\n`);
  }
  if (!stop.aborted) bar.finish();
  const wallSeconds = previousWall + (Date.now() - started) / 1000;
  await makeRunDir();
  await fs.writeFile(path.join(runDir, 'wall.json'), JSON.stringify({ seconds: wallSeconds, step: stepsDone }));
  if (result) process.stderr.write(`Trained ${result.history.length} steps in this run (to step ${result.steps}) (${result.imagesPerSec.toFixed(1)} img/s); total wall ${formatSeconds(wallSeconds)}.\n`);

  // The folder appears whole or not at all: written beside --out, renamed onto it at the end.
  await writeFolderAtomically(out, async (dir) => {
    try {
      await saveModelToFolder(model, dir, { dtype: 'float16' });
    } finally {
      model.dispose();
    }
    const { model: shipped } = await loadModelFromFolder(dir);
    try {
      await writeCard(dir, shipped, {
        name,
        training: {
          command: `npm run lab -- ${argv.join(' ')}`,
          data: describe,
          seed,
          steps: stepsDone,
          plannedSteps: steps,
          complete: stepsDone >= steps,
          epochs: (stepsDone * config.p * config.k) / dataset.train.count,
          batch: `P=${config.p} x K=${config.k}`,
          optimizer: config.optimizer,
          finalLoss: last ? { loss: last.loss, triplet: last.triplet, id: last.id } : undefined,
          wallSeconds,
          machine: `${os.cpus()[0]?.model ?? 'unknown CPU'}, ${os.cpus().length} cores`,
          backend: `${tf.getBackend()} (Node ${process.version}, tfjs ${tf.version.tfjs})`,
        },
      });
    } finally {
      shipped.dispose();
    }
  });
}

/** Wall time already spent on this run: from the local run folder, else from the committed card. */
async function readWallSeconds(runDir: string, out: string): Promise<number> {
  try {
    return (JSON.parse(await readTextBounded(path.join(runDir, 'wall.json'), 1 << 20, 'bad-argument', 'The run record')) as { seconds: number }).seconds;
  } catch {
    try {
      const card = JSON.parse(await readTextBounded(path.join(out, 'card.json'), 16 << 20, 'bad-model-file', 'The card')) as { training?: { wallSeconds?: number } };
      return card.training?.wallSeconds ?? 0;
    } catch {
      return 0;
    }
  }
}
