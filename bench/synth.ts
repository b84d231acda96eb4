/**
 * SynthReID benchmark: generation time per tier and domain (main thread and a worker thread),
 * and the colour-histogram baseline (rank-1, mAP) on S source and target. Prints a table and
 * writes the "SynthReID" section of BENCHMARKS.md (only that section).
 *
 * Usage: npx tsx bench/synth.ts [--with-m] [--no-write]
 */
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { generateSynthReid, SYNTH_GENERATOR_VERSION, SYNTH_DEFAULT_SEED } from '../src/engine/data/synth';
import type { SynthTier, SynthDomain } from '../src/engine/data/synth';
import { evaluateColorHistogram } from '../src/engine/eval/color-histogram';

interface Timing { tier: SynthTier; domain: SynthDomain; images: number; wallS: number; cpuS: number; where: string }

function timeGeneration(tier: SynthTier, domain: SynthDomain, where: string): Timing {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const { manifest } = generateSynthReid({ tier, domain });
  const wallS = (performance.now() - t0) / 1000;
  const c = process.cpuUsage(c0);
  const images = manifest.counts.train + manifest.counts.query + manifest.counts.gallery;
  return { tier, domain, images, wallS, cpuS: (c.user + c.system) / 1e6, where };
}

if (!isMainThread) {
  const { tier, domain } = workerData as { tier: SynthTier; domain: SynthDomain };
  parentPort!.postMessage(timeGeneration(tier, domain, 'worker thread'));
} else {
  await main();
}

function inWorker(tier: SynthTier, domain: SynthDomain): Promise<Timing> {
  return new Promise((resolve, reject) => {
    // The worker registers tsx itself (loader flags are not inherited by worker threads on Node 20).
    const boot = `import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(import.meta.url)}); })`;
    const w = new Worker(boot, { eval: true, workerData: { tier, domain } });
    w.once('message', (m: Timing) => {
      resolve(m);
      void w.terminate();
    });
    w.once('error', reject);
  });
}

async function main(): Promise<void> {
  const withM = process.argv.includes('--with-m');
  const write = !process.argv.includes('--no-write');
  const load0 = loadavg()[0];
  const timings: Timing[] = [];
  for (const tier of (withM ? ['XS', 'S', 'M'] : ['XS', 'S']) as SynthTier[]) {
    for (const domain of ['source', 'target'] as const) {
      const t = timeGeneration(tier, domain, 'main thread');
      timings.push(t);
      console.log(`${tier} ${domain}: ${t.images} images in ${t.wallS.toFixed(2)} s (${t.cpuS.toFixed(2)} CPU-s)`);
    }
  }
  for (const domain of ['source', 'target'] as const) {
    const t = await inWorker('S', domain);
    timings.push(t);
    console.log(`S ${domain} (worker): ${t.images} images in ${t.wallS.toFixed(2)} s`);
  }
  const baselines: { domain: SynthDomain; counts: string; r1: number; mAP: number; mINP: number }[] = [];
  for (const domain of ['source', 'target'] as const) {
    const { dataset, manifest } = generateSynthReid({ tier: 'S', domain });
    const res = await evaluateColorHistogram(dataset);
    const k = manifest.counts;
    baselines.push({ domain, counts: `${k.trainIds}/${k.testIds} ids; train ${k.train}, query ${k.query}, gallery ${k.gallery} (${k.distractors} distractors, ${k.junk} junk)`, r1: res.rank1, mAP: res.mAP, mINP: res.ranking.mINP });
    console.log(`colour baseline S ${domain}: R1 ${(res.rank1 * 100).toFixed(1)}%, mAP ${(res.mAP * 100).toFixed(1)}%`);
  }
  const load1 = loadavg()[0];
  const date = new Date().toISOString().slice(0, 10);
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  const section = [
    '## SynthReID',
    '',
    `Measured ${date} with \`npx tsx bench/synth.ts${withM ? ' --with-m' : ''}\` on ${cpu}, ${cpus().length} cores (shared with other work: 1-minute load average ${load0.toFixed(1)} at the start, ${load1.toFixed(1)} at the end), Node ${process.version}. Generator ${SYNTH_GENERATOR_VERSION}, seed ${SYNTH_DEFAULT_SEED}, 128x64. "CPU-s" is this process's CPU time (less sensitive to sharing than wall time).`,
    '',
    '| Tier | Domain | Where | Images | Time (s) | CPU-s | ms/image |',
    '|---|---|---|---:|---:|---:|---:|',
    ...timings.map((t) => `| ${t.tier} | ${t.domain} | ${t.where} | ${t.images} | ${t.wallS.toFixed(2)} | ${t.where === 'main thread' ? t.cpuS.toFixed(2) : '-'} | ${((t.wallS * 1000) / t.images).toFixed(2)} |`),
    '',
    'Colour baseline (joint HSV histograms 16x4x4 of the upper and lower image halves, square-rooted, Euclidean distance; Market-1501 protocol), tier S:',
    '',
    '| Domain | Split sizes | Rank-1 | mAP | mINP |',
    '|---|---|---:|---:|---:|',
    ...baselines.map((b) => `| ${b.domain} | ${b.counts} | ${(b.r1 * 100).toFixed(1)}% | ${(b.mAP * 100).toFixed(1)}% | ${(b.mINP * 100).toFixed(1)}% |`),
    '',
    '- Design target: the colour baseline stays below 40% rank-1 and 25% mAP on S source (outfit',
    '  families share colours; cameras differ in light, white balance, response, background), while',
    '  family members differ in several shape cues a CNN can see (logo, pattern, sleeves, lower',
    '  garment, shoes, bag, hat, hair, build). On XS the baseline is well above chance (tested).',
    '- Target (indoor, evening): colour is nearly useless across its cameras (dark clothing, dim',
    '  tungsten/fluorescent light of different white balance, low resolution, noise): the domain',
    '  shift the lab\'s fine-tuning is meant to bridge. Shape cues are the same as in the source.',
    '- Every sibling pair differs in at least 40 clearly different pixels in each of the front, back',
    '  and side views at 128x64 under identical pose (test/unit/synth-families.test.ts).',
    '- The worker rows run the same generator in a Node worker thread (the browser runs it in the',
    '  lab\'s web worker); the generator is plain TypeScript on typed arrays, so both are the same code.',
    '',
  ].join('\n');
  if (write) {
    const file = 'BENCHMARKS.md';
    const text = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmarks\n';
    const start = text.indexOf('\n## SynthReID\n');
    let next: string;
    if (start >= 0) {
      const after = text.indexOf('\n## ', start + 1);
      next = text.slice(0, start + 1) + section + (after >= 0 ? text.slice(after + 1) : '');
    } else {
      next = text.replace(/\n*$/, '\n\n') + section;
    }
    writeFileSync(file, next);
    console.log('wrote the SynthReID section of BENCHMARKS.md');
  } else {
    console.log(section);
  }
}
