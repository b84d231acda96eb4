/**
 * P×K identity sampler (torchreid's RandomIdentitySampler): every batch holds P identities with
 * K images each, which batch-hard triplet mining needs. One epoch: each identity's images are
 * shuffled (resampled with replacement up to K when it has fewer), cut into chunks of K, and
 * batches draw P distinct identities among those with chunks left, until fewer than P remain.
 *
 * State is tiny (epoch, batch index, PRNG state at the epoch's start): the epoch's plan is
 * rebuilt from it on restore, so a checkpoint resumes the exact same sequence.
 */
import { Prng } from '../util/prng';
import { LabError } from '../errors';

export interface SamplerState {
  epoch: number;
  /** Batches already taken from the current epoch. */
  batch: number;
  /** PRNG state at the start of the current epoch. */
  epochRng: number;
}

export class PKSampler {
  readonly p: number;
  readonly k: number;
  /** Image indices per identity, identities in ascending pid order. */
  private readonly byId: number[][];
  private readonly rng: Prng;
  private state: SamplerState;
  private plan: number[][] = [];

  /** `pids` per image; only pids > 0 are sampled (-1 junk and 0 distractors are skipped). */
  constructor(pids: ArrayLike<number>, p: number, k: number, seed: number) {
    if (!Number.isInteger(p) || p < 1 || !Number.isInteger(k) || k < 1) {
      throw new LabError('bad-argument', `P and K must be positive integers; got P=${p}, K=${k}.`);
    }
    const map = new Map<number, number[]>();
    for (let i = 0; i < pids.length; i++) {
      const pid = pids[i];
      if (pid <= 0) continue;
      let list = map.get(pid);
      if (!list) map.set(pid, (list = []));
      list.push(i);
    }
    if (map.size < p) {
      throw new LabError('bad-dataset', `A P×K batch needs at least P=${p} identities; the training set has ${map.size}.`);
    }
    this.p = p;
    this.k = k;
    this.byId = [...map.keys()].sort((a, b) => a - b).map((pid) => map.get(pid)!);
    this.rng = new Prng(seed);
    this.state = { epoch: 0, batch: 0, epochRng: this.rng.getState() };
    this.plan = this.buildPlan();
  }

  get numIdentities(): number {
    return this.byId.length;
  }

  /** Batches in the current epoch. */
  get batchesPerEpoch(): number {
    return this.plan.length;
  }

  get epoch(): number {
    return this.state.epoch;
  }

  /** Build the current epoch's batches from the PRNG (which must sit at the epoch's start). */
  private buildPlan(): number[][] {
    const rng = this.rng;
    const chunks: number[][][] = this.byId.map((idxs) => {
      let pool = idxs.slice();
      if (pool.length < this.k) pool = Array.from({ length: this.k }, () => idxs[rng.int(0, idxs.length - 1)]);
      rng.shuffle(pool);
      const out: number[][] = [];
      for (let i = 0; i + this.k <= pool.length; i += this.k) out.push(pool.slice(i, i + this.k));
      return out;
    });
    const avail = chunks.map((_, i) => i).filter((i) => chunks[i].length > 0);
    const plan: number[][] = [];
    while (avail.length >= this.p) {
      // Partial Fisher-Yates: P distinct identities among those with chunks left.
      for (let j = 0; j < this.p; j++) {
        const r = j + Math.floor(rng.next() * (avail.length - j));
        [avail[j], avail[r]] = [avail[r], avail[j]];
      }
      const batch: number[] = [];
      for (let j = 0; j < this.p; j++) batch.push(...chunks[avail[j]].shift()!);
      plan.push(batch);
      for (let j = this.p - 1; j >= 0; j--) if (chunks[avail[j]].length === 0) avail.splice(j, 1);
    }
    return plan;
  }

  /** Next batch of P*K image indices (identity-major: K consecutive images per identity). */
  next(): number[] {
    if (this.state.batch >= this.plan.length) {
      this.state = { epoch: this.state.epoch + 1, batch: 0, epochRng: this.rng.getState() };
      this.plan = this.buildPlan();
    }
    return this.plan[this.state.batch++].slice();
  }

  getState(): SamplerState {
    return { ...this.state };
  }

  setState(s: SamplerState): void {
    this.rng.setState(s.epochRng);
    this.plan = this.buildPlan();
    if (!(s.batch >= 0 && s.batch <= this.plan.length)) {
      throw new LabError('bad-argument', `The sampler state points at batch ${s.batch} of an epoch that has ${this.plan.length}.`);
    }
    this.state = { ...s };
  }
}
