/**
 * Optimisers with serialisable state (tf.train's cannot express decoupled weight decay, and
 * their slots are awkward to checkpoint).
 *
 * - Adam (Kingma & Ba) with bias correction. Weight decay is either decoupled (AdamW,
 *   Loshchilov & Hutter: p -= lr * wd * p, separate from the adaptive step) or L2 (wd * p added
 *   to the gradient before the moments, as torch.optim.Adam's weight_decay does).
 * - SGD with momentum as torch.optim.SGD: g += wd * p; buf = momentum * buf + g; p -= lr * buf
 *   (nesterov: p -= lr * (g + momentum * buf)).
 * Weight decay applies to every trained parameter (torchreid's default).
 */
import * as tf from '@tensorflow/tfjs';
import { LabError } from '../errors';

export type OptimizerConfig =
  | { kind: 'adam'; lr: number; beta1: number; beta2: number; eps: number; weightDecay: number; decoupled: boolean }
  | { kind: 'sgd'; lr: number; momentum: number; weightDecay: number; nesterov: boolean };

export const DEFAULT_ADAM: OptimizerConfig = { kind: 'adam', lr: 3.5e-4, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 5e-4, decoupled: false };
export const DEFAULT_SGD: OptimizerConfig = { kind: 'sgd', lr: 0.01, momentum: 0.9, weightDecay: 5e-4, nesterov: false };

/** Plain-data optimiser state: step count and per-parameter slots (Adam: m, v; SGD: buf). */
export interface OptimizerState {
  kind: OptimizerConfig['kind'];
  step: number;
  slots: Record<string, { shape: number[]; values: Float32Array[] }>;
}

/**
 * Refuse settings that would silently ruin a run: a NaN or infinite learning rate or weight
 * decay turns every weight into NaN at the first step; Adam's betas must be in [0, 1).
 */
export function validateOptimizerConfig(c: OptimizerConfig): void {
  const bad = (msg: string): never => {
    throw new LabError('bad-argument', msg);
  };
  const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
  if (c.kind !== 'adam' && c.kind !== 'sgd') bad(`The optimiser must be "adam" or "sgd"; got ${JSON.stringify((c as { kind: unknown }).kind)}.`);
  if (!finite(c.lr) || c.lr <= 0) bad(`The learning rate must be a positive finite number; got ${String(c.lr)}.`);
  if (!finite(c.weightDecay) || c.weightDecay < 0) bad(`Weight decay must be a finite number of at least 0; got ${String(c.weightDecay)}.`);
  if (c.kind === 'adam') {
    if (!finite(c.beta1) || c.beta1 < 0 || c.beta1 >= 1) bad(`Adam's beta1 must be in [0, 1); got ${String(c.beta1)}.`);
    if (!finite(c.beta2) || c.beta2 < 0 || c.beta2 >= 1) bad(`Adam's beta2 must be in [0, 1); got ${String(c.beta2)}.`);
    if (!finite(c.eps) || c.eps <= 0) bad(`Adam's epsilon must be a positive finite number; got ${String(c.eps)}.`);
  } else if (!finite(c.momentum) || c.momentum < 0 || c.momentum > 1) {
    bad(`SGD momentum must be in [0, 1]; got ${String(c.momentum)}.`);
  }
}

/** A non-trainable variable that owns its data (the initial tensor is released). */
function ownedVariable(init: tf.Tensor): tf.Variable {
  const v = tf.variable(init, false);
  init.dispose();
  return v;
}

/** One optimiser step computed but not yet applied (Optimizer.prepare). */
export interface PreparedStep {
  /** The parameters' new values, in gradient order (owned by the step). */
  readonly params: readonly tf.Tensor[];
  commit(): void;
  discard(): void;
}

export class Optimizer {
  readonly config: OptimizerConfig;
  private step = 0;
  private readonly slots = new Map<string, tf.Variable[]>();

  constructor(config: OptimizerConfig) {
    validateOptimizerConfig(config);
    this.config = config;
  }

  /** Steps applied so far. */
  get steps(): number {
    return this.step;
  }

  /** Number of state tensors held (for memory accounting). */
  get numStateTensors(): number {
    let n = 0;
    for (const s of this.slots.values()) n += s.length;
    return n;
  }

  private slotsFor(name: string, p: tf.Variable): tf.Variable[] {
    let s = this.slots.get(name);
    if (!s) {
      const n = this.config.kind === 'adam' ? 2 : 1;
      s = Array.from({ length: n }, () => ownedVariable(tf.zerosLike(p)));
      this.slots.set(name, s);
    }
    return s;
  }

  /** Apply one step with the given gradients at learning rate `lr`. */
  apply(params: ReadonlyMap<string, tf.Variable>, grads: Record<string, tf.Tensor>, lr: number): void {
    const step = this.prepare(params, grads, lr);
    step.commit();
  }

  /**
   * Compute one step's new parameter and slot values without assigning them, so the caller can
   * check them (e.g. for NaN) first. `commit` assigns all of them and counts the step; `discard`
   * frees them and changes nothing. One of the two must be called.
   */
  prepare(params: ReadonlyMap<string, tf.Variable>, grads: Record<string, tf.Tensor>, lr: number): PreparedStep {
    const t = this.step + 1;
    const c = this.config;
    const writes: { target: tf.Variable; value: tf.Tensor }[] = [];
    const paramValues: tf.Tensor[] = [];
    try {
      for (const name of Object.keys(grads)) {
        const p = params.get(name);
        if (!p) throw new Error(`Gradient for unknown parameter ${name}`);
        const slots = this.slotsFor(name, p);
        const computed = tf.tidy(() => {
          let g = grads[name];
          if (c.kind === 'adam') {
            if (!c.decoupled && c.weightDecay > 0) g = tf.add(g, tf.mul(p, c.weightDecay));
            const [m, v] = slots;
            const m1 = tf.add(tf.mul(m, c.beta1), tf.mul(g, 1 - c.beta1));
            const v1 = tf.add(tf.mul(v, c.beta2), tf.mul(tf.square(g), 1 - c.beta2));
            const bc1 = 1 - Math.pow(c.beta1, t);
            const bc2 = 1 - Math.pow(c.beta2, t);
            const update = tf.div(tf.div(m1, bc1), tf.add(tf.sqrt(tf.div(v1, bc2)), c.eps));
            let next = tf.sub(p, tf.mul(update, lr));
            if (c.decoupled && c.weightDecay > 0) next = tf.sub(next, tf.mul(p, lr * c.weightDecay));
            return [next, m1, v1];
          }
          if (c.weightDecay > 0) g = tf.add(g, tf.mul(p, c.weightDecay));
          const [buf] = slots;
          const b1 = t === 1 ? tf.clone(g) : tf.add(tf.mul(buf, c.momentum), g); // torch: buf = g on the first step
          const dir = c.nesterov ? tf.add(g, tf.mul(b1, c.momentum)) : b1;
          return [tf.sub(p, tf.mul(dir, lr)), b1];
        });
        writes.push({ target: p, value: computed[0] });
        paramValues.push(computed[0]);
        computed.slice(1).forEach((value, i) => writes.push({ target: slots[i], value }));
      }
    } catch (e) {
      for (const w of writes) w.value.dispose();
      throw e;
    }
    let open = true;
    const release = () => {
      open = false;
      for (const w of writes) w.value.dispose();
    };
    return {
      params: paramValues,
      commit: () => {
        if (!open) return;
        for (const w of writes) w.target.assign(w.value);
        this.step = t;
        release();
      },
      discard: () => {
        if (open) release();
      },
    };
  }

  async getState(): Promise<OptimizerState> {
    const slots: OptimizerState['slots'] = {};
    for (const [name, vs] of this.slots) {
      const values = await Promise.all(vs.map(async (v) => new Float32Array(await v.data() as Float32Array)));
      slots[name] = { shape: vs[0].shape.slice(), values };
    }
    return { kind: this.config.kind, step: this.step, slots };
  }

  /** Replace the state (validated first, so a bad state leaves this optimiser unchanged). */
  setState(state: OptimizerState, params: ReadonlyMap<string, tf.Variable>): void {
    const n = this.config.kind === 'adam' ? 2 : 1;
    if (state.kind !== this.config.kind) throw new LabError('bad-argument', `The checkpoint holds ${state.kind} state but the optimiser is ${this.config.kind}.`);
    for (const [name, s] of Object.entries(state.slots)) {
      const p = params.get(name);
      const size = s.shape.reduce((a, b) => a * b, 1);
      if (!p || p.size !== size || s.values.length !== n || s.values.some((v) => v.length !== size)) {
        throw new LabError('bad-argument', `The optimiser state for ${name} does not match the model's parameter.`);
      }
    }
    this.disposeSlots();
    for (const [name, s] of Object.entries(state.slots)) {
      this.slots.set(name, s.values.map((v) => ownedVariable(tf.tensor(v, s.shape, 'float32'))));
    }
    this.step = state.step;
  }

  private disposeSlots(): void {
    for (const vs of this.slots.values()) vs.forEach((v) => v.dispose());
    this.slots.clear();
  }

  dispose(): void {
    this.disposeSlots();
  }
}
