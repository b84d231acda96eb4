/**
 * Forward latency benchmark (Node, tfjs wasm backend, single-threaded):
 *   npx tsx bench/forward.ts [--quick] [--no-write]
 *
 * ResNet-18/-34/-50 at 128x64 (last stride 1, BNNeck: the lab's ReID default), width 1.0 and
 * 0.5, batch 1 and 32: median / p10 / p90 milliseconds per batched forward and images/s. Then
 * ResNet-50 before and after physically pruning half of every inner group's channels (surgery),
 * comparing the measured speed-up with the MACs ratio. Prints a table and writes the "Forward
 * latency" section of BENCHMARKS.md (other sections are left as they are).
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import * as os from 'node:os';
import { writeSection } from './section';
import { buildSpec, type Depth } from '../src/engine/model/spec';
import { initParamArrays } from '../src/engine/model/init';
import { ReidModel } from '../src/engine/model/model';
import { modelCost, formatMacs, formatParams } from '../src/engine/cost/macs';
import { measureLatency, type LatencyResult } from '../src/engine/cost/latency';
import { groupsInScope } from '../src/engine/prune/groups';
import { pruneArrays } from '../src/engine/prune/surgery';

const args = new Set(process.argv.slice(2));
const quick = args.has('--quick');
const write = !args.has('--no-write');
const SECTION = '## Forward latency';

function plan(batch: number, macs: number): { warmup: number; repeats: number } {
  // Aim for a few seconds per row on a ~15 GMAC/s single wasm thread.
  const perRunS = (batch * macs) / 15e9;
  const repeats = quick ? 3 : Math.max(5, Math.min(20, Math.round(8 / Math.max(perRunS, 1e-3))));
  return { warmup: perRunS > 1 ? 1 : 2, repeats };
}

interface Row {
  model: string;
  width: number;
  batch: number;
  macs: number;
  params: number;
  r: LatencyResult;
}

async function bench(label: string, model: ReidModel, width: number, batch: number): Promise<Row> {
  const cost = modelCost(model.spec);
  const r = await measureLatency(model, { batch, ...plan(batch, cost.macs) });
  const row = { model: label, width, batch, macs: cost.macs, params: cost.params, r };
  console.log(fmtRow(row));
  return row;
}

const ms = (v: number) => (v >= 100 ? v.toFixed(0) : v.toFixed(1));
function fmtRow(x: Row): string {
  return `| ${x.model} | ${x.width.toFixed(x.width === 1 ? 1 : 2)} | ${formatMacs(x.macs)} | ${formatParams(x.params)} | ${x.batch} | ${ms(x.r.medianMs)} | ${ms(x.r.p10Ms)}–${ms(x.r.p90Ms)} | ${x.r.imagesPerSecond.toFixed(1)} |`;
}
const HEADER = ['| Model | Width | MACs/image | Params | Batch | Median ms | p10–p90 ms | Images/s |', '|---|---|---|---|---|---|---|---|'];

async function main() {
  await tf.setBackend('wasm');
  await tf.ready();
  const cpus = os.cpus();
  const machine = `${cpus[0]?.model ?? 'unknown CPU'}, ${cpus.length} cores (Node wasm is single-threaded)`;
  const load = os.loadavg()[0];
  console.log(`backend ${tf.getBackend()}, tfjs ${tf.version.tfjs}, ${machine}, load ${load.toFixed(2)}`);
  console.log([...HEADER].join('\n'));

  const rows: Row[] = [];
  for (const depth of [18, 34, 50] as Depth[]) {
    for (const width of [1, 0.5]) {
      const spec = buildSpec({ depth, widthMultiplier: width });
      const model = ReidModel.init(spec, 1);
      for (const batch of [1, 32]) rows.push(await bench(`ResNet-${depth}`, model, width, batch));
      model.dispose();
    }
  }

  // ResNet-50 before/after surgery: half of every inner group's channels removed.
  const spec = buildSpec({ depth: 50 });
  const arrays = initParamArrays(spec, 1);
  const keep = new Map(groupsInScope(spec, 'inner').map((g) => [g.id, Array.from({ length: Math.ceil(g.channels / 2) }, (_, i) => i)]));
  const pruned = pruneArrays(spec, arrays, keep);
  const full = ReidModel.fromArrays(spec, arrays);
  const half = ReidModel.fromArrays(pruned.spec, pruned.arrays);
  console.log('\nResNet-50 before/after pruning half of every inner group:');
  const pruneRows: [Row, Row][] = [];
  for (const batch of [1, 32]) {
    const before = await bench('ResNet-50', full, 1, batch);
    const after = await bench('ResNet-50, inner ½', half, 1, batch);
    pruneRows.push([before, after]);
  }
  full.dispose();
  half.dispose();

  const pruneLines = pruneRows.map(([b, a]) => {
    const lat = b.r.medianMs / a.r.medianMs;
    const mac = b.macs / a.macs;
    return `| ${b.batch} | ${ms(b.r.medianMs)} | ${ms(a.r.medianMs)} | ${lat.toFixed(2)}× | ${mac.toFixed(2)}× | ${formatParams(b.params)} → ${formatParams(a.params)} |`;
  });
  console.log(pruneLines.join('\n'));

  const loadEnd = os.loadavg()[0];
  const date = new Date().toISOString().slice(0, 10);
  const section = [
    SECTION,
    '',
    `Written by \`npx tsx bench/forward.ts\`${quick ? ' (--quick)' : ''} on ${date}. Machine: ${machine}; 1-minute load average ${load.toFixed(2)} at start, ${loadEnd.toFixed(2)} at the end (the machine is shared with other jobs, so figures are indicative: expect them to vary between runs). Backend: tfjs ${tf.getBackend()} in Node ${process.version}, tfjs ${tf.version.tfjs}.`,
    '',
    'Evaluation-mode forward of a batch of 128×64 images (ReID default: last stride 1, BNNeck, no classifier), median of timed runs after warm-up, each ended by `await data()`. MACs and parameters are per image for the deployed extractor (conv + linear MACs; see src/engine/cost/macs.ts).',
    '',
    ...HEADER,
    ...rows.map(fmtRow),
    '',
    'ResNet-50 (width 1.0) before and after channel surgery removing half of every inner group\'s channels (bottleneck conv1/conv2 outputs; the residual trunks untouched):',
    '',
    '| Batch | Before ms | After ms | Latency speed-up | MACs ratio | Params |',
    '|---|---|---|---|---|---|',
    ...pruneLines,
    '',
  ].join('\n');

  if (write) {
    writeSection(SECTION, section);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
