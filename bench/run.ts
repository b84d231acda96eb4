/**
 * `npm run bench [-- --quick] [-- --only onnx,prune,criteria,forward,eval,train-profile,train,synth,trainers,interactive] [-- --no-write|--write]`
 * (`interactive`, the prune -> recover -> score loop in Chromium on the built page, runs only when named.)
 *
 * Runs the benchmark sections one after another and writes BENCHMARKS.md; each section replaces
 * only its own "## " heading's block, every other block is preserved.
 * - In this process: runtimes (tfjs wasm vs onnxruntime-node / -web, peak conv GFLOP/s;
 *   bench/onnx.ts), pruning speed-up (bench/prune-speedup.ts), prune time per criterion
 *   (bench/criteria.ts).
 * - As child processes (they keep their own sections): forward latency (bench/forward.ts),
 *   evaluation (bench/eval.ts), SynthReID (bench/synth.ts), and training throughput
 *   (bench/train.ts, whose JSON this script turns into the fine-tuning rows of the overview),
 *   the per-kernel training-step profile (bench/train-profile.ts, its own section), and the lab's
 *   trainer vs the PyTorch companion (bench/trainers.ts).
 * `--quick` is the CI smoke mode: tiny models, 1-2 repeats, about a minute; it skips the
 * forward and SynthReID sections and does not write BENCHMARKS.md unless `--write` is given.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runOnnxBench } from './onnx';
import { runPruneSpeedupBench } from './prune-speedup';
import { runCriteriaBench } from './criteria';
import { writeSection } from './section';
import { HEADING as INTERACTIVE_HEADING, runInteractiveBench } from './interactive';

const ROOT = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const TSX = path.join(ROOT, 'node_modules', '.bin', 'tsx');

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const write = args.includes('--write') || (!quick && !args.includes('--no-write'));
const onlyArg = args.find((a) => a.startsWith('--only'));
const only = onlyArg ? new Set((onlyArg.includes('=') ? onlyArg.split('=')[1] : args[args.indexOf(onlyArg) + 1] ?? '').split(',')) : undefined;
const wanted = (name: string) => !only || only.has(name);

function machine(): string {
  const cpus = os.cpus();
  return `${cpus[0]?.model ?? 'unknown CPU'}, ${cpus.length} cores, Node ${process.version}, tfjs ${tf.version.tfjs} (${tf.getBackend()} backend, single-threaded in Node)`;
}

const load = () => os.loadavg()[0].toFixed(2);

interface Done {
  name: string;
  seconds: number;
  status: string;
}

async function inProcess(name: string, heading: string, run: (quick: boolean) => Promise<string>, done: Done[]): Promise<void> {
  if (!wanted(name)) return;
  console.log(`\n== ${heading.slice(3)} ==`);
  const l0 = load();
  const t0 = performance.now();
  const body = await run(quick);
  const s = (performance.now() - t0) / 1000;
  const head = `Measured ${new Date().toISOString().slice(0, 10)} with \`npm run bench${quick ? ' -- --quick' : ''}\` (${s.toFixed(0)} s) on ${machine()}. The machine is shared: 1-minute load average ${l0} at the start, ${load()} at the end, so absolute figures are indicative; ratios measured in the same run are steadier.`;
  const section = `${heading}\n\n${head}\n\n${body}\n`;
  if (write) writeSection(heading, section);
  done.push({ name, seconds: s, status: 'ok' });
}

function child(name: string, script: string, childArgs: string[], done: Done[]): boolean {
  if (!wanted(name)) return false;
  console.log(`\n== ${name}: tsx ${script} ${childArgs.join(' ')} ==`);
  const t0 = performance.now();
  const r = spawnSync(TSX, [path.join(ROOT, script), ...childArgs], { stdio: 'inherit', cwd: ROOT });
  const s = (performance.now() - t0) / 1000;
  done.push({ name, seconds: s, status: r.status === 0 ? 'ok' : `failed (exit ${r.status ?? r.signal})` });
  return r.status === 0;
}

async function main(): Promise<void> {
  await tf.setBackend('wasm');
  await tf.ready();
  const startLoad = load();
  const t0 = performance.now();
  const done: Done[] = [];

  // The browser loop (bench/interactive.ts) drives the built page for minutes: only when asked by name.
  if (only?.has('interactive')) {
    console.log(`\n== ${INTERACTIVE_HEADING.slice(3)} ==`);
    const t = performance.now();
    const body = await runInteractiveBench(quick ? 1 : 3);
    if (write) writeSection(INTERACTIVE_HEADING, `${INTERACTIVE_HEADING}\n\n${body}\n`);
    else console.log(body);
    done.push({ name: 'interactive', seconds: (performance.now() - t) / 1000, status: 'ok' });
  }
  await inProcess('onnx', '## Runtimes: tfjs wasm vs onnxruntime', runOnnxBench, done);
  await inProcess('prune', '## Pruning speed-up', runPruneSpeedupBench, done);
  await inProcess('criteria', '## Prune time per criterion', runCriteriaBench, done);

  const noWrite = write ? [] : ['--no-write'];
  if (!quick) child('forward', 'bench/forward.ts', noWrite, done);
  child('eval', 'bench/eval.ts', [...(quick ? ['--quick'] : []), ...noWrite], done);
  if (!quick) child('synth', 'bench/synth.ts', noWrite, done);
  child('trainers', 'bench/trainers.ts', [...(quick ? ['--quick'] : []), ...noWrite], done);

  // Where a training step's time goes, per kernel, old vs new (quick: a tiny model, new only).
  child('train-profile', 'bench/train-profile.ts', quick ? ['--quick'] : write ? ['--write'] : [], done);

  // Fine-tuning throughput: bench/train.ts's JSON, summarised in the overview.
  let trainRows: string[] = [];
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'bench-'));
  const json = path.join(tmp, 'train.json');
  if (child('train', 'bench/train.ts', quick ? ['--steps', '1', '--only', 'r18-0.5', '--json', json] : ['--steps', '3', '--json', json], done) && existsSync(json)) {
    const t = JSON.parse(readFileSync(json, 'utf8')) as { rows: { model: string; trainImgS: number; trainImgCpuS: number; forwardImgS: number; stepMs: number }[] };
    trainRows = t.rows.map((r) => `| ${r.model} | ${r.trainImgS.toFixed(1)} | ${r.trainImgCpuS.toFixed(1)} | ${r.stepMs.toFixed(0)} | ${r.forwardImgS.toFixed(1)} |`);
  }
  rmSync(tmp, { recursive: true, force: true });

  const total = (performance.now() - t0) / 1000;
  const overview = [
    '## Overview (npm run bench)',
    '',
    `Last full run ${new Date().toISOString().slice(0, 10)}: \`npm run bench${quick ? ' -- --quick' : ''}\`, ${total.toFixed(0)} s in all, on ${machine()}; 1-minute load average ${startLoad} at the start and ${load()} at the end (shared machine). Sections it ran:`,
    '',
    '| Section | Seconds | Status |',
    '|---|---:|---|',
    ...done.map((d) => `| ${d.name} | ${d.seconds.toFixed(0)} | ${d.status} |`),
    '',
    ...(trainRows.length > 0
      ? [
          'Fine-tuning throughput (bench/train.ts: whole trainer step, batch 32 = 8 identities x 4 images at 128x64, forward + backward + Adam on tfjs wasm):',
          '',
          '| Model | Fine-tune img/s | img per CPU-s | ms/step | Forward img/s |',
          '|---|---:|---:|---:|---:|',
          ...trainRows,
          '',
        ]
      : []),
    'Evaluation time: see "Evaluation" (bench/eval.ts). Browser figures (Chromium wasm with 2 threads, WebGPU on SwiftShader) are not measured here; a browser benchmark belongs with the e2e tests.',
    '',
  ].join('\n');
  console.log(`\n${overview}`);
  // The overview describes a whole run: a partial one (--only) leaves the last full run's overview.
  if (write && !only) writeSection('## Overview (npm run bench)', overview);
  if (done.some((d) => d.status !== 'ok')) process.exitCode = 1;
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
