/**
 * A Conv2D gradient built only from forward convolutions, for backends whose backprop kernels
 * are missing or slow (tfjs-backend-wasm has no Conv2DBackpropFilter; see design.md).
 *
 * For y = conv2d(x, W) with stride s and padding (pt, pb, pl, pr):
 *  - dW[kh,kw,ci,co] = sum_{b,i,j} x[b, i*s+kh-pt, j*s+kw-pl, ci] * dy[b,i,j,co]. Treating Cin as
 *    the batch and B as the channels, this is a stride-1 convolution of x^T [Cin,H,W,B] with
 *    the "filter" dy^T [OH,OW,B,Cout] dilated by s, output [Cin,KH,KW,Cout].
 *  - dx is a stride-1 "valid" convolution of dy zero-dilated by s and padded by K-1-p, with the
 *    spatially flipped filter whose in/out channels are swapped.
 * Both run through XNNPACK's forward convolution, which is the fast path on wasm. A 1x1
 * conv (most of a bottleneck ResNet) takes a shorter path: dW as one matrix product (over every
 * s-th pixel when strided), dx at stride 1 as a 1x1 conv with the channel-swapped filter
 * (switched off with setFusedTrainOps(false), so benches and tests can compare with the general
 * path).
 *
 * The registered gradient dispatches on the active backend at gradient time: the override for
 * the backends listed in `customBackends`, tfjs's stock gradient elsewhere (it is 2x faster on
 * WebGPU), so switching backends never leaves a wrong gradient behind.
 */
import * as tf from '@tensorflow/tfjs';
import { useFusedTrainOps } from '../model/fused-train-ops';

type Pad4 = { top: number; bottom: number; left: number; right: number };
type ExplicitPad = [[number, number], [number, number], [number, number], [number, number]];

/** Backends that use the forward-conv gradient; others keep tfjs's stock one. */
const customBackends = new Set<string>(['wasm', 'cpu']);
let stockConfig: tf.GradConfig | undefined;
let installed = false;

function pair(v: number | number[]): [number, number] {
  return typeof v === 'number' ? [v, v] : [v[0], v[1] ?? v[0]];
}

/** A 1x1, stride-1, unpadded conv: a plain matrix product over the [B*H*W, C] views. */
function isPointwise(kh: number, kw: number, strides: [number, number], pad: Pad4): boolean {
  return kh === 1 && kw === 1 && strides[0] === 1 && strides[1] === 1 && pad.top === 0 && pad.bottom === 0 && pad.left === 0 && pad.right === 0;
}

/**
 * dW = x^T dy over the [M, Cin] and [M, Cout] views, transposing the smaller of the two: wasm's
 * matMul with a transpose flag takes a naive path (~10x slower), and the dilated-conv form
 * below transposes both tensors and runs a conv with an OH*OW-tap kernel.
 */
function pointwiseFilterGrad(x: tf.Tensor4D, dy: tf.Tensor4D): tf.Tensor4D {
  const cin = x.shape[3];
  const cout = dy.shape[3];
  const m = x.size / cin;
  const x2 = tf.reshape(x, [m, cin]);
  const dy2 = tf.reshape(dy, [m, cout]);
  const g = cin <= cout ? tf.matMul(tf.transpose(x2), dy2) : tf.transpose(tf.matMul(tf.transpose(dy2), x2));
  return tf.reshape(g, [1, 1, cin, cout]);
}

/**
 * x[:, ::sh, ::sw, :] cut to oh x ow pixels. tfjs-wasm's StridedSlice is a slow generic loop
 * (~70 ms for one ResNet-50 x0.5 layer2 input, BENCHMARKS.md "Training kernels and wasm
 * threads"); when the input is whole sh x sw cells (even sizes at stride 2), the same pixels are a plain slice of a
 * [B*oh, sh, ow, sw*C] view: row 0 of each cell, its first C values (the cell's first column).
 */
function everyNthPixel(x: tf.Tensor4D, sh: number, sw: number, oh: number, ow: number): tf.Tensor4D {
  const [b, h, w, c] = x.shape;
  if (h !== oh * sh || w !== ow * sw) return tf.stridedSlice(x, [0, 0, 0, 0], [b, (oh - 1) * sh + 1, (ow - 1) * sw + 1, c], [1, sh, sw, 1]) as tf.Tensor4D;
  const cells = tf.reshape(x, [b * oh, sh, ow, sw * c]);
  return tf.reshape(tf.slice(cells, [0, 0, 0, 0], [b * oh, 1, ow, c]), [b, oh, ow, c]);
}

/** Gradient of conv2d w.r.t. its filter, via a dilated forward conv over transposed tensors. */
export function conv2dFilterGrad(x: tf.Tensor4D, dy: tf.Tensor4D, filterShape: [number, number, number, number], strides: [number, number], pad: Pad4): tf.Tensor4D {
  return tf.tidy(() => {
    const [kh, kw] = filterShape;
    if (kh === 1 && kw === 1 && pad.top === 0 && pad.left === 0 && useFusedTrainOps()) {
      // A strided 1x1 conv (a downsample shortcut) reads every s-th pixel: take those, then
      // it is the pointwise case.
      const [, oh, ow] = dy.shape;
      const [sh, sw] = strides;
      const xs = sh === 1 && sw === 1 ? x : everyNthPixel(x, sh, sw, oh, ow);
      return pointwiseFilterGrad(xs, dy);
    }
    const [, h, w] = x.shape;
    const [, oh, ow] = dy.shape;
    const [sh, sw] = strides;
    // Padding after the input so the dilated-filter conv yields exactly kh x kw outputs; a
    // negative amount means trailing input rows the forward conv never read: drop them.
    let padB = kh - h - pad.top + (oh - 1) * sh;
    let padR = kw - w - pad.left + (ow - 1) * sw;
    let xs = x;
    if (padB < 0 || padR < 0) {
      xs = tf.slice(x, [0, 0, 0, 0], [-1, h + Math.min(0, padB), w + Math.min(0, padR), -1]);
      padB = Math.max(0, padB);
      padR = Math.max(0, padR);
    }
    const xt = tf.transpose(xs, [3, 1, 2, 0]); // [Cin, H, W, B]
    const dyt = tf.transpose(dy, [1, 2, 0, 3]); // [OH, OW, B, Cout]
    const padding: ExplicitPad = [[0, 0], [pad.top, padB], [pad.left, padR], [0, 0]];
    const allZero = pad.top === 0 && padB === 0 && pad.left === 0 && padR === 0;
    const g = tf.conv2d(xt, dyt, 1, allZero ? 'valid' : padding, 'NHWC', [sh, sw]); // [Cin, KH, KW, Cout]
    return tf.transpose(g, [1, 2, 0, 3]);
  });
}

/** Insert (s-1) zeros between neighbouring rows/columns of dy [B, OH, OW, C]. */
function zeroDilate(dy: tf.Tensor4D, sh: number, sw: number): tf.Tensor4D {
  const [b, oh, ow, c] = dy.shape;
  let t: tf.Tensor4D = dy;
  if (sh > 1) {
    const e = tf.reshape(t, [b, oh, 1, ow, c]);
    t = tf.reshape(tf.pad(e, [[0, 0], [0, 0], [0, sh - 1], [0, 0], [0, 0]]), [b, oh * sh, ow, c]);
    t = tf.slice(t, [0, 0, 0, 0], [-1, (oh - 1) * sh + 1, -1, -1]);
  }
  if (sw > 1) {
    const h2 = t.shape[1];
    const e = tf.reshape(t, [b, h2, ow, 1, c]);
    t = tf.reshape(tf.pad(e, [[0, 0], [0, 0], [0, 0], [0, sw - 1], [0, 0]]), [b, h2, ow * sw, c]);
    t = tf.slice(t, [0, 0, 0, 0], [-1, -1, (ow - 1) * sw + 1, -1]);
  }
  return t;
}

/**
 * Spatially flipped filter (kh, kw -> KH-1-kh, KW-1-kw). Reversing the flattened KH*KW axis
 * flips both; done with block copies on the host because wasm's Reverse/Gather kernels take
 * ~30 ms for a 3x3x256x256 filter. Only used on CPU-memory backends (wasm, cpu).
 */
function flipKernel(filter: tf.Tensor4D): tf.Tensor4D {
  const [kh, kw, ci, co] = filter.shape;
  const src = filter.dataSync() as Float32Array;
  const block = ci * co;
  const taps = kh * kw;
  const out = new Float32Array(src.length);
  for (let r = 0; r < taps; r++) out.set(src.subarray((taps - 1 - r) * block, (taps - r) * block), r * block);
  return tf.tensor4d(out, filter.shape);
}

/** Gradient of conv2d w.r.t. its input, via a valid conv of the zero-dilated, padded dy. */
export function conv2dInputGrad(xShape: [number, number, number, number], dy: tf.Tensor4D, filter: tf.Tensor4D, strides: [number, number], pad: Pad4): tf.Tensor4D {
  return tf.tidy(() => {
    const [, h, w] = xShape;
    const [kh, kw] = filter.shape;
    const [, oh, ow] = dy.shape;
    const [sh, sw] = strides;
    // 1x1, stride 1: dx = dy W^T, a 1x1 conv with the filter's channels swapped (no flip).
    if (isPointwise(kh, kw, strides, pad) && useFusedTrainOps()) return tf.conv2d(dy, tf.transpose(filter, [0, 1, 3, 2]), 1, 'valid');
    const d = zeroDilate(dy, sh, sw);
    let padT = kh - 1 - pad.top;
    let padL = kw - 1 - pad.left;
    let padB = h - (oh - 1) * sh - 1 + pad.top;
    let padR = w - (ow - 1) * sw - 1 + pad.left;
    // Negative padding (padding wider than the kernel reach) becomes a crop.
    let ds: tf.Tensor4D = d;
    if (padT < 0 || padL < 0 || padB < 0 || padR < 0) {
      const [, dh, dw] = d.shape;
      const t0 = Math.max(0, -padT);
      const l0 = Math.max(0, -padL);
      ds = tf.slice(d, [0, t0, l0, 0], [-1, dh - t0 - Math.max(0, -padB), dw - l0 - Math.max(0, -padR), -1]);
      padT = Math.max(0, padT);
      padL = Math.max(0, padL);
      padB = Math.max(0, padB);
      padR = Math.max(0, padR);
    }
    const wf = tf.transpose(flipKernel(filter), [0, 1, 3, 2]); // flipped, [KH, KW, Cout, Cin]
    const allZero = padT === 0 && padB === 0 && padL === 0 && padR === 0;
    const padding: ExplicitPad = [[0, 0], [padT, padB], [padL, padR], [0, 0]];
    return tf.conv2d(ds, wf, 1, allZero ? 'valid' : padding);
  });
}

function customConv2dGrad(dy: tf.Tensor, saved: tf.Tensor[], attrs: tf.NamedAttrMap): Record<string, () => tf.Tensor> {
  const [x, filter] = saved as [tf.Tensor4D, tf.Tensor4D];
  const a = attrs as unknown as { strides: number | number[]; pad: unknown; dilations: number | number[]; dataFormat: string; dimRoundingMode?: 'floor' | 'round' | 'ceil' };
  const strides = pair(a.strides);
  const dil = pair(a.dilations ?? 1);
  if (dil[0] !== 1 || dil[1] !== 1 || (a.dataFormat && a.dataFormat !== 'NHWC')) {
    // Not used by the lab's ResNets; defer to the stock gradient rather than guess.
    return stockConfig!.gradFunc(dy, saved, attrs) as Record<string, () => tf.Tensor>;
  }
  const info = tf.backend_util.computeConv2DInfo(
    x.shape, filter.shape, strides, 1,
    a.pad as 'valid' | 'same' | number | tf.backend_util.ExplicitPadding, a.dimRoundingMode, false, 'channelsLast',
  );
  const pad: Pad4 = { top: info.padInfo.top, bottom: info.padInfo.bottom, left: info.padInfo.left, right: info.padInfo.right };
  const dy4 = dy as tf.Tensor4D;
  return {
    x: () => conv2dInputGrad(x.shape, dy4, filter, strides, pad),
    filter: () => conv2dFilterGrad(x, dy4, filter.shape, strides, pad),
  };
}

/**
 * Register the dispatching Conv2D gradient (idempotent). Safe to call on any backend: only the
 * backends in `customBackends` (wasm, cpu) use the forward-conv gradient.
 */
export function installConvGradient(): void {
  if (installed) return;
  stockConfig = tf.getGradient('Conv2D');
  if (!stockConfig) throw new Error('tfjs has no Conv2D gradient registered; import @tensorflow/tfjs first.');
  const stock = stockConfig;
  tf.unregisterGradient('Conv2D');
  tf.registerGradient({
    kernelName: 'Conv2D',
    inputsToSave: ['x', 'filter'],
    gradFunc: (dy, saved, attrs) => {
      const d = Array.isArray(dy) ? dy[0] : dy;
      return customBackends.has(tf.getBackend()) ? customConv2dGrad(d, saved, attrs) : stock.gradFunc(dy, saved, attrs);
    },
  });
  installed = true;
}

/** Put tfjs's stock Conv2D gradient back (tests compare against it). */
export function uninstallConvGradient(): void {
  if (!installed || !stockConfig) return;
  tf.unregisterGradient('Conv2D');
  tf.registerGradient(stockConfig);
  installed = false;
}

export function isConvGradientInstalled(): boolean {
  return installed;
}
