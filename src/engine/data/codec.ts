/**
 * Image codecs for dataset loading, in plain JS so they run in Node and in a worker alike:
 * JPEG via jpeg-js, PNG via fast-png, always to 8-bit RGB, plus the resize to the model's input.
 *
 * Resizing is PIL's BILINEAR, which is what torchvision's Resize applies to the PIL images
 * torchreid and fast-reid load: a triangle filter on half-pixel centres whose support widens by
 * the scale factor when shrinking (so downscaling averages, i.e. antialiases, instead of
 * skipping pixels). When enlarging it is exactly ordinary bilinear interpolation
 * (half-pixel centres, edge pixels clamped), as tf.image.resizeBilinear with halfPixelCenters.
 * Computed separably in float and rounded once (PIL rounds after each pass: a difference of at
 * most one grey level).
 */
import * as jpeg from 'jpeg-js';
import { decode as pngDecode, encode as pngEncode, convertIndexedToRgb } from 'fast-png';
import { LabError } from '../errors';

/** Row-major 8-bit RGB. */
export interface RgbImage {
  width: number;
  height: number;
  data: Uint8Array;
}

export type ImageFormat = 'jpeg' | 'png';

/**
 * The most pixels the lab decodes from one image (25 MP, e.g. 5000 x 5000). ReID crops are tiny;
 * a small file that declares a huge size (a decompression bomb) would otherwise allocate gigabytes.
 */
export const MAX_IMAGE_PIXELS = 25_000_000;

/** Width and height a PNG declares in its IHDR chunk (bytes 16-23), or null if there is no IHDR there. */
export function pngDeclaredSize(bytes: Uint8Array): { width: number; height: number } | null {
  if (bytes.length < 24 || String.fromCharCode(bytes[12], bytes[13], bytes[14], bytes[15]) !== 'IHDR') return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return { width: view.getUint32(16), height: view.getUint32(20) };
}

function tooLarge(name: string, width: number, height: number): LabError {
  const mp = (width * height) / 1e6;
  return new LabError(
    'bad-image',
    `${name} declares ${width} x ${height} pixels (${mp >= 10 ? Math.round(mp) : mp.toFixed(1)} MP), more than the ${MAX_IMAGE_PIXELS / 1e6} MP the lab decodes; shrink it if it belongs in the dataset.`,
    { width, height },
  );
}

export function sniffImageFormat(bytes: Uint8Array): ImageFormat | null {
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
  if (bytes.length >= 8 && bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47) return 'png';
  return null;
}

/** Decode a JPEG or PNG (by content, not by name) to RGB. Alpha is dropped, not composited. */
export function decodeImage(bytes: Uint8Array, name = 'The image'): RgbImage {
  const format = sniffImageFormat(bytes);
  if (!format) {
    throw new LabError('bad-image', `${name} is neither a JPEG nor a PNG file (its first bytes are not an image signature).`);
  }
  // The declared size is checked before fast-png allocates for it (jpeg-js checks its own frame).
  const declared = format === 'png' ? pngDeclaredSize(bytes) : null;
  if (declared && declared.width * declared.height > MAX_IMAGE_PIXELS) throw tooLarge(name, declared.width, declared.height);
  try {
    return format === 'jpeg' ? decodeJpeg(bytes) : decodePng(bytes);
  } catch (e) {
    if (e instanceof LabError) throw e;
    if (/maxResolutionInMP/.test((e as Error).message)) {
      throw new LabError('bad-image', `${name} is larger than the ${MAX_IMAGE_PIXELS / 1e6} MP the lab decodes (${(e as Error).message}); shrink it if it belongs in the dataset.`);
    }
    throw new LabError('bad-image', `${name} could not be decoded as ${format.toUpperCase()}: ${(e as Error).message}.`);
  }
}

export function decodeJpeg(bytes: Uint8Array): RgbImage {
  const img = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: false, maxResolutionInMP: MAX_IMAGE_PIXELS / 1e6 });
  return { width: img.width, height: img.height, data: img.data };
}

export function decodePng(bytes: Uint8Array): RgbImage {
  const png = pngDecode(bytes);
  const { width, height } = png;
  const n = width * height;
  let channels = png.channels;
  let src: ArrayLike<number> = png.data;
  let depth: number = png.depth;
  if (png.palette) {
    src = convertIndexedToRgb(png);
    channels = src.length / n;
    depth = 8;
  }
  const out = new Uint8Array(n * 3);
  if (depth < 8) {
    // Packed greyscale (1, 2 or 4 bits); rows start on byte boundaries.
    const max = (1 << depth) - 1;
    const rowBytes = Math.ceil((depth * channels * width) / 8);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const bit = x * depth * channels;
        const byte = src[y * rowBytes + (bit >> 3)];
        const v = (byte >> (8 - depth - (bit & 7))) & max;
        const g = Math.round((v * 255) / max);
        out.set([g, g, g], (y * width + x) * 3);
      }
    }
    return { width, height, data: out };
  }
  const scale = depth === 16 ? 257 : 1;
  const color = channels >= 3;
  for (let i = 0; i < n; i++) {
    const base = i * channels;
    for (let c = 0; c < 3; c++) {
      const v = src[base + (color ? c : 0)];
      out[i * 3 + c] = scale === 1 ? v : Math.round(v / scale);
    }
  }
  return { width, height, data: out };
}

function toRgba(img: RgbImage): Uint8Array {
  const n = img.width * img.height;
  const rgba = new Uint8Array(n * 4);
  for (let i = 0; i < n; i++) {
    rgba[i * 4] = img.data[i * 3];
    rgba[i * 4 + 1] = img.data[i * 3 + 1];
    rgba[i * 4 + 2] = img.data[i * 3 + 2];
    rgba[i * 4 + 3] = 255;
  }
  return rgba;
}

function checkRgb(img: RgbImage): void {
  if (!(img.width > 0 && img.height > 0) || img.data.length !== img.width * img.height * 3) {
    throw new LabError('bad-argument', `Expected ${img.width} x ${img.height} RGB bytes (${img.width * img.height * 3}); got ${img.data.length}.`);
  }
}

/** Baseline JPEG (jpeg-js; needs Node's Buffer, so Node-side, e.g. tests and the CLI). */
export function encodeJpeg(img: RgbImage, quality = 90): Uint8Array {
  checkRgb(img);
  const out = jpeg.encode({ width: img.width, height: img.height, data: toRgba(img) }, quality);
  return new Uint8Array(out.data.buffer, out.data.byteOffset, out.data.byteLength);
}

/** Lossless 8-bit RGB PNG. */
export function encodePng(img: RgbImage): Uint8Array {
  checkRgb(img);
  return pngEncode({ width: img.width, height: img.height, data: img.data, channels: 3, depth: 8 });
}

/** Per output pixel along one axis: first source index and normalised weights. */
interface AxisWeights {
  start: Int32Array;
  size: Int32Array;
  weights: Float64Array;
  taps: number;
}

function axisWeights(inSize: number, outSize: number): AxisWeights {
  const scale = inSize / outSize;
  const support = Math.max(1, scale); // triangle radius in source pixels
  const taps = Math.ceil(support) * 2 + 1;
  const start = new Int32Array(outSize);
  const size = new Int32Array(outSize);
  const weights = new Float64Array(outSize * taps);
  const filterScale = Math.max(1, scale);
  for (let o = 0; o < outSize; o++) {
    const center = (o + 0.5) * scale;
    const lo = Math.max(0, Math.floor(center - support + 0.5));
    const hi = Math.min(inSize, Math.floor(center + support + 0.5));
    let total = 0;
    for (let i = lo; i < hi; i++) {
      const w = Math.max(0, 1 - Math.abs((i + 0.5 - center) / filterScale));
      weights[o * taps + (i - lo)] = w;
      total += w;
    }
    for (let i = lo; i < hi; i++) weights[o * taps + (i - lo)] /= total || 1;
    start[o] = lo;
    size[o] = hi - lo;
  }
  return { start, size, weights, taps };
}

/** Resize RGB to width x height with PIL's bilinear filter (see the file comment). */
export function resizeBilinear(img: RgbImage, width: number, height: number): RgbImage {
  checkRgb(img);
  if (!(Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0)) {
    throw new LabError('bad-argument', `Resize needs a positive whole-number size; got ${width} x ${height}.`);
  }
  if (width === img.width && height === img.height) return { width, height, data: img.data.slice() };
  const wx = axisWeights(img.width, width);
  const wy = axisWeights(img.height, height);
  // Horizontal pass: [inH, outW, 3] in float.
  const tmp = new Float32Array(img.height * width * 3);
  for (let y = 0; y < img.height; y++) {
    const row = y * img.width * 3;
    for (let x = 0; x < width; x++) {
      let r = 0, g = 0, b = 0;
      const s = wx.start[x];
      for (let k = 0; k < wx.size[x]; k++) {
        const w = wx.weights[x * wx.taps + k];
        const p = row + (s + k) * 3;
        r += w * img.data[p];
        g += w * img.data[p + 1];
        b += w * img.data[p + 2];
      }
      const o = (y * width + x) * 3;
      tmp[o] = r;
      tmp[o + 1] = g;
      tmp[o + 2] = b;
    }
  }
  // Vertical pass, rounded and clamped to bytes.
  const out = new Uint8Array(height * width * 3);
  const stride = width * 3;
  for (let y = 0; y < height; y++) {
    const s = wy.start[y];
    for (let i = 0; i < stride; i++) {
      let v = 0;
      for (let k = 0; k < wy.size[y]; k++) v += wy.weights[y * wy.taps + k] * tmp[(s + k) * stride + i];
      out[y * stride + i] = Math.min(255, Math.max(0, Math.round(v)));
    }
  }
  return { width, height, data: out };
}
