/**
 * A ReID model in memory: its spec and one tf.Variable per parameter (running statistics are
 * non-trainable variables). Owns its tensors: call dispose() when done.
 */
import * as tf from '@tensorflow/tfjs';
import { validateSpec, type ResNetSpec, cloneSpec } from './spec';
import { listParams } from './names';
import { initParamArrays, type ParamArrays } from './init';
import { forward, type ForwardOptions } from './forward';

let modelCounter = 0;

export class ReidModel {
  readonly spec: ResNetSpec;
  readonly params: Map<string, tf.Variable>;
  private disposed = false;

  private constructor(spec: ResNetSpec, params: Map<string, tf.Variable>) {
    this.spec = spec;
    this.params = params;
  }

  /** Build from plain arrays; every parameter of the spec must be present with the right size. */
  static fromArrays(spec: ResNetSpec, arrays: ParamArrays): ReidModel {
    validateSpec(spec);
    const infos = listParams(spec);
    for (const info of infos) {
      const a = arrays.get(info.name);
      const n = info.shape.reduce((x, y) => x * y, 1);
      if (!a) throw new Error(`Missing parameter ${info.name}`);
      if (a.length !== n) throw new Error(`Parameter ${info.name} has ${a.length} values; expected ${n} for shape [${info.shape.join(', ')}]`);
    }
    const id = ++modelCounter;
    const params = new Map<string, tf.Variable>();
    for (const info of infos) {
      // tf.variable shares the initial tensor's data; dispose the temporary so it does not leak.
      const t = tf.tensor(arrays.get(info.name)!, info.shape, 'float32');
      params.set(info.name, tf.variable(t, info.trainable, `m${id}/${info.name}`));
      t.dispose();
    }
    return new ReidModel(cloneSpec(spec), params);
  }

  /** A freshly initialised model (seeded). */
  static init(spec: ResNetSpec, seed: number, opts: { zeroInitResidual?: boolean } = {}): ReidModel {
    return ReidModel.fromArrays(spec, initParamArrays(spec, seed, opts));
  }

  /** Evaluation-mode embeddings of a batch of normalised NHWC images. */
  embed(x: tf.Tensor4D, masks?: ForwardOptions['masks']): tf.Tensor2D {
    return tf.tidy(() => forward(this.spec, this.params, x, { training: false, masks }).embedding);
  }

  /** Copy of every parameter as plain arrays (async read-back, GPU friendly). */
  async toArrays(): Promise<ParamArrays> {
    const names = [...this.params.keys()];
    const datas = await Promise.all(names.map((n) => this.params.get(n)!.data() as Promise<Float32Array>));
    const out: ParamArrays = new Map();
    names.forEach((n, i) => out.set(n, new Float32Array(datas[i])));
    return out;
  }

  /** An independent copy (new variables). */
  async clone(): Promise<ReidModel> {
    return ReidModel.fromArrays(this.spec, await this.toArrays());
  }

  /** Number of parameters excluding the ID classifier (the deployed extractor). */
  get isDisposed(): boolean {
    return this.disposed;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const v of this.params.values()) v.dispose();
  }
}
