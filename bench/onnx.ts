/**
 * Runtimes on the same model in the same run: tfjs wasm (the lab's path), onnxruntime-node
 * (native CPU) and onnxruntime-web (wasm, in Node) on the lab's ONNX export; images/s at batch
 * 1 and 32 and their ratios. Then the GFLOP/s tfjs wasm reaches on the model's largest
 * convolution alone, against the CPU's SIMD peak estimated from /proc/cpuinfo.
 * Runs under `npm run bench` (bench/run.ts), which writes the section.
 */
import * as tf from '@tensorflow/tfjs';
import * as ortNode from 'onnxruntime-node';
import * as ortWeb from 'onnxruntime-web';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { buildSpec, type Depth, type ResNetSpec } from '../src/engine/model/spec';
import { ReidModel } from '../src/engine/model/model';
import { layerCosts, modelCost, formatMacs } from '../src/engine/cost/macs';
import { measureLatency } from '../src/engine/cost/latency';
import { modelToOnnx } from '../src/engine/onnx/export';

interface Candidate {
  label: string;
  load: () => Promise<ReidModel>;
}

/** The zoo (public/models/<name>/model.json) if shipped, else the same architectures randomly initialised. */
async function candidates(quick: boolean): Promise<Candidate[]> {
  const zoo = path.join(process.cwd(), 'public', 'models');
  if (!quick && existsSync(zoo)) {
    const dirs = readdirSync(zoo).filter((d) => existsSync(path.join(zoo, d, 'model.json')));
    if (dirs.length > 0) {
      return dirs.map((d) => ({
        label: `${d} (zoo)`,
        load: async () => {
          const dir = path.join(zoo, d);
          const { loadModelFromFolder } = await import('../src/node/model-files');
          return (await loadModelFromFolder(dir)).model;
        },
      }));
    }
  }
  const configs: [Depth, number][] = quick ? [[18, 0.25]] : [[18, 1], [50, 0.5], [50, 1]];
  const h = quick ? 64 : 128;
  const w = quick ? 32 : 64;
  return configs.map(([depth, width]) => ({
    label: `ResNet-${depth} x${width} (random init, ${h}x${w})`,
    load: async () => ReidModel.init(buildSpec({ depth, widthMultiplier: width, inputHeight: h, inputWidth: w }), 1),
  }));
}

interface OrtLike {
  InferenceSession: { create(bytes: Uint8Array, opts?: object): Promise<{ inputNames: readonly string[]; run(feeds: object): Promise<Record<string, { data: unknown }>>; release(): Promise<void> }> };
  Tensor: new (type: 'float32', data: Float32Array, dims: number[]) => object;
}

async function ortImagesPerSecond(ort: OrtLike, bytes: Uint8Array, spec: ResNetSpec, batch: number, repeats: number, sessionOpts: object): Promise<number> {
  const s = await ort.InferenceSession.create(bytes, sessionOpts);
  const n = batch * 3 * spec.input.height * spec.input.width;
  const data = Float32Array.from({ length: n }, (_, i) => Math.sin(i));
  const feeds = { [s.inputNames[0]]: new ort.Tensor('float32', data, [batch, 3, spec.input.height, spec.input.width]) };
  await s.run(feeds);
  const times: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const t0 = performance.now();
    await s.run(feeds);
    times.push(performance.now() - t0);
  }
  await s.release();
  times.sort((a, b) => a - b);
  return (batch * 1000) / times[Math.floor(times.length / 2)];
}

/** Estimated single-core peaks from /proc/cpuinfo: native (FMA units x lanes x 2 x GHz) and wasm SIMD128. */
export function cpuPeak(): { text: string; nativeGflops: number; wasmGflops: number; ghz: number } {
  let flags = '';
  let mhz = os.cpus()[0]?.speed ?? 0;
  try {
    const info = readFileSync('/proc/cpuinfo', 'utf8');
    flags = /^flags\s*:(.*)$/m.exec(info)?.[1] ?? '';
    const m = /^cpu MHz\s*:\s*([\d.]+)/m.exec(info);
    if (m) mhz = Number(m[1]);
  } catch {
    // Not Linux: fall back to os.cpus().
  }
  const ghz = mhz / 1000;
  const lanes = / avx512f/.test(flags) ? 16 : / avx2/.test(flags) ? 8 : 4;
  const fma = / fma/.test(flags) ? 2 : 1;
  const units = 2; // two FMA/SIMD ports per core on recent Intel and AMD cores (an assumption, not read from the CPU)
  const nativeGflops = units * lanes * fma * ghz;
  // wasm SIMD is 128-bit (4 float lanes); tfjs 4.22's XNNPACK build uses separate mul + add (no relaxed-simd FMA).
  const wasmGflops = units * 4 * ghz;
  const isa = lanes === 16 ? 'AVX-512' : lanes === 8 ? 'AVX2' : 'SSE';
  return {
    ghz,
    nativeGflops,
    wasmGflops,
    text: `${units} SIMD units x ${lanes} float lanes (${isa}) x ${fma} flops (FMA) x ${ghz.toFixed(2)} GHz (cpu MHz from /proc/cpuinfo) = ${nativeGflops.toFixed(1)} GFLOP/s per core native; wasm SIMD128 without FMA: ${units} x 4 lanes x 1 flop x ${ghz.toFixed(2)} GHz = ${wasmGflops.toFixed(1)} GFLOP/s per core (2x that if the build used relaxed-simd FMA)`,
  };
}

/** Kernel size of a conv layer by its PyTorch name (stem 7x7; 3x3 in basic blocks and bottleneck conv2; else 1x1). */
function kernelOf(spec: ResNetSpec, name: string): number {
  if (name === 'conv1') return 7;
  if (name.includes('downsample')) return 1;
  if (spec.block === 'basic') return 3;
  return name.endsWith('conv2') ? 3 : 1;
}

/**
 * GFLOP/s of tfjs wasm on one convolution with the shape of the model's largest conv layer
 * (by MACs), run stride 1 with "same" padding at that layer's output size (same MACs).
 */
async function largestConvGflops(spec: ResNetSpec, batch: number, repeats: number): Promise<{ name: string; gflops: number; shape: string }> {
  const big = layerCosts(spec)
    .filter((l) => l.kind === 'conv')
    .reduce((a, b) => (b.macs > a.macs ? b : a));
  const [oh, ow, cout] = big.out;
  const k = kernelOf(spec, big.name);
  const cin = big.params / (cout * k * k);
  const x = tf.randomNormal([batch, oh, ow, cin]) as tf.Tensor4D;
  const w = tf.randomNormal([k, k, cin, cout]) as tf.Tensor4D;
  const run = async () => {
    const y = tf.conv2d(x, w, 1, 'same');
    await y.data();
    y.dispose();
  };
  await run();
  const times: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const t0 = performance.now();
    await run();
    times.push(performance.now() - t0);
  }
  x.dispose();
  w.dispose();
  const best = Math.min(...times);
  const flops = 2 * oh * ow * cout * cin * k * k * batch;
  return { name: big.name, gflops: flops / (best / 1000) / 1e9, shape: `${batch}x${oh}x${ow}x${cin} -> ${cout}, ${k}x${k}` };
}

export async function runOnnxBench(quick: boolean): Promise<string> {
  ortWeb.env.wasm.numThreads = 1;
  const repeats = (batch: number, macs: number) => (quick ? 2 : Math.max(3, Math.min(10, Math.round(6 / ((batch * macs) / 10e9)))));
  const rows: string[] = [];
  let convLine = '';
  let largest: ReidModel | undefined;
  for (const c of await candidates(quick)) {
    const model = await c.load();
    const macs = modelCost(model.spec).macs;
    const bytes = await modelToOnnx(model);
    for (const batch of [1, 32]) {
      const r = repeats(batch, macs);
      const tfjs = (await measureLatency(model, { batch, warmup: 1, repeats: r })).imagesPerSecond;
      const node1 = await ortImagesPerSecond(ortNode as unknown as OrtLike, bytes, model.spec, batch, r, { intraOpNumThreads: 1, interOpNumThreads: 1 });
      const node2 = await ortImagesPerSecond(ortNode as unknown as OrtLike, bytes, model.spec, batch, r, { intraOpNumThreads: os.cpus().length });
      const web = await ortImagesPerSecond(ortWeb as unknown as OrtLike, bytes, model.spec, batch, r, { executionProviders: ['wasm'] });
      const line = `| ${c.label} | ${formatMacs(macs)} | ${batch} | ${tfjs.toFixed(1)} | ${web.toFixed(1)} (${(web / tfjs).toFixed(2)}×) | ${node1.toFixed(1)} (${(node1 / tfjs).toFixed(2)}×) | ${node2.toFixed(1)} (${(node2 / tfjs).toFixed(2)}×) |`;
      console.log(line);
      rows.push(line);
    }
    if (largest) largest.dispose();
    largest = model;
  }
  const peak = cpuPeak();
  if (largest) {
    const conv = await largestConvGflops(largest.spec, quick ? 4 : 32, quick ? 2 : 5);
    convLine = `tfjs wasm on the largest convolution of the last model (${conv.name}, ${conv.shape}), best of the timed runs: **${conv.gflops.toFixed(1)} GFLOP/s** = ${((100 * conv.gflops) / peak.wasmGflops).toFixed(0)}% of the wasm SIMD128 estimate and ${((100 * conv.gflops) / peak.nativeGflops).toFixed(0)}% of the native peak.`;
    console.log(convLine);
    largest.dispose();
  }
  return [
    'Same model, same run: the lab\'s tfjs wasm forward (NHWC) against the lab\'s ONNX export (NCHW) in onnxruntime-web (wasm backend in Node, 1 thread) and onnxruntime-node (native CPU, 1 thread and all cores). Images/s, median of timed runs after one warm-up; ratios are against tfjs wasm.',
    '',
    '| Model | MACs/image | Batch | tfjs wasm img/s | ort-web wasm img/s | ort-node 1 thread img/s | ort-node all cores img/s |',
    '|---|---|---|---:|---:|---:|---:|',
    ...rows,
    '',
    `Peak: ${convLine}`,
    `The machine's peak was estimated, not measured: ${peak.text}. Per-model GMAC/s (2 flops per MAC) is lower than the single-conv figure because BatchNorm, ReLU, pooling, adds and small late layers run at memory speed.`,
    '',
    'Browser numbers (Chromium wasm with 2 threads, WebGPU on SwiftShader) are left to the browser benchmark (test/e2e); design.md lists earlier measurements (Chromium wasm 2 threads: ResNet-18 full width 88 img/s forward at batch 32).',
  ].join('\n');
}
