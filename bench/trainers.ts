/**
 * Trainers side by side: the lab's tfjs-wasm trainer (bench/train.ts, Node, one thread) and the
 * PyTorch companion (python -m prunability_torch.bench: one process, and two processes under
 * torchrun), at the same setting (batch 32 = P 8 x K 4, 128x64, random images), in interleaved
 * rounds so each round's ratios see the same machine load. Writes BENCHMARKS.md's "Trainers".
 *
 *   npx tsx bench/trainers.ts [--rounds 3] [--steps 4] [--quick] [--no-write]
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeSection } from './section';

const ROOT = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const quick = args.includes('--quick');
const write = !quick && !args.includes('--no-write');
const opt = (name: string, fallback: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const rounds = opt('rounds', quick ? 1 : 3);
const steps = opt('steps', quick ? 1 : 4);
const HEADING = '## Trainers: the lab (tfjs wasm) vs the PyTorch companion';

interface Rate {
  trainImgS: number;
  trainImgCpuS: number;
  forwardImgS?: number;
  forwardImgCpuS?: number;
}

function run(cmd: string, argv: string[], env: Record<string, string> = {}): void {
  const r = spawnSync(cmd, argv, { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, OMP_NUM_THREADS: '1', PYTHONPATH: path.join(ROOT, 'python'), ...env } });
  if (r.status !== 0) throw new Error(`${cmd} ${argv.join(' ')} failed (exit ${r.status ?? r.signal})`);
}

const median = (v: number[]) => {
  const s = [...v].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

function main(): void {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-trainers-'));
  const load0 = os.loadavg()[0];
  const models: [string, number, number][] = quick ? [['r18-0.25', 18, 0.25]] : [['r18-0.5', 18, 0.5], ['r50-0.5', 50, 0.5]];
  const rows: string[] = [];
  try {
    for (const [tag, depth, width] of models) {
      const lab: Rate[] = [];
      const torch1: Rate[] = [];
      const torch2: Rate[] = [];
      for (let r = 0; r < rounds; r++) {
        const f = (n: string) => path.join(dir, `${tag}-${n}-${r}.json`);
        if (!quick) {
          run(process.execPath, [path.join(ROOT, 'node_modules/tsx/dist/cli.mjs'), 'bench/train.ts', '--only', tag, '--steps', String(steps), '--json', f('lab')]);
          lab.push((JSON.parse(readFileSync(f('lab'), 'utf8')) as { rows: Rate[] }).rows[0]);
        }
        const py = ['-m', 'prunability_torch.bench', '--depth', String(depth), '--width', String(width), '--steps', String(steps)];
        run('/usr/bin/python3', [...py, '--json', f('torch1')]);
        torch1.push(JSON.parse(readFileSync(f('torch1'), 'utf8')) as Rate);
        run('/usr/bin/python3', ['-m', 'prunability_torch.torchrun', '--standalone', '--nproc_per_node', '2', ...py, '--json', f('torch2')]);
        torch2.push(JSON.parse(readFileSync(f('torch2'), 'utf8')) as Rate);
      }
      const m = (rs: Rate[], k: keyof Rate) => (rs.length ? median(rs.map((x) => x[k] ?? NaN)).toFixed(1) : '-');
      const ratio = (a: Rate[], b: Rate[], k: keyof Rate) => (a.length && b.length ? median(a.map((x, i) => (x[k] ?? NaN) / (b[i][k] ?? NaN))).toFixed(1) + 'x' : '-');
      const name = `ResNet-${depth} x${width}`;
      rows.push(`| ${name} | lab, tfjs wasm, 1 thread | ${m(lab, 'forwardImgS')} (${m(lab, 'forwardImgCpuS')}) | ${m(lab, 'trainImgS')} (${m(lab, 'trainImgCpuS')}) | 1.0x |`);
      rows.push(`| ${name} | PyTorch, 1 process | ${m(torch1, 'forwardImgS')} (${m(torch1, 'forwardImgCpuS')}) | ${m(torch1, 'trainImgS')} (${m(torch1, 'trainImgCpuS')}) | ${ratio(torch1, lab, 'trainImgCpuS')} |`);
      rows.push(`| ${name} | PyTorch, 2 processes (torchrun, gloo) | - | ${m(torch2, 'trainImgS')} (${m(torch2, 'trainImgCpuS')}) | ${ratio(torch2, lab, 'trainImgCpuS')} |`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const cpu = os.cpus();
  const body = [
    `Measured ${new Date().toISOString().slice(0, 10)} with \`npx tsx bench/trainers.ts${quick ? ' --quick' : ''}\`: ${rounds} interleaved round(s) of ${steps} step(s) after a warm-up step, batch 32 (P 8 x K 4) at 128x64, random images; ${cpu[0]?.model ?? 'unknown CPU'}, ${cpu.length} cores; Node ${process.version}; Debian's python3-torch. The machine is shared: 1-minute load average ${load0.toFixed(2)} at the start, ${os.loadavg()[0].toFixed(2)} at the end. Each cell is the median over rounds of wall-clock img/s and, in brackets, img per CPU-second of the trainer's processes (steadier under load); the last column is the median per-round ratio of img per CPU-second to the lab's.`,
    '',
    '| Model | Trainer | Forward img/s (per CPU-s) | Training img/s (per CPU-s) | Training vs lab (per CPU-s) |',
    '|---|---|---:|---:|---:|',
    ...rows,
  ].join('\n');
  console.log(body);
  if (write) writeSection(HEADING, `${HEADING}\n\n${body}\n`);
}

main();
