/**
 * PTL in the lab page: the page's PTL request checked and turned into the engine's PtlConfig,
 * and what the page is told about a model that carries a side branch (PtlInfo: the branch's
 * MACs and params apart from the backbone's, from engine/ptl/ptl-cost.ts).
 *
 * What the "current model" is after a PTL fine-tune: the fine-tuned backbone together with its
 * side branch. The branch stays in the model at inference (its join changes the embedding), so
 * the lab evaluates and times the two together and a run's cost is backbone + branch; the model
 * summary and the architecture strip stay the backbone's, and the branch's cost is shown apart.
 */
import { LabError } from '../engine/errors';
import type { ResNetSpec } from '../engine/model/spec';
import { ptlCost } from '../engine/ptl/ptl-cost';
import { DEFAULT_PTL_CONFIG, PtlSideBranch, resolvePtlConfig, type PtlConfig } from '../engine/ptl/side-branch';
import type { PtlCostPreview, PtlInfo, PtlOptions } from './api';

/**
 * The branch settings for a request: the page's knobs over the engine's defaults, seeded with
 * the fine-tuning seed (same seed, same branch). Throws a LabError for a bad knob.
 */
export function ptlConfigFor(opts: PtlOptions, seed: number): PtlConfig {
  if (typeof opts !== 'object' || opts === null) throw new LabError('bad-argument', `The PTL option must be an object of settings (cellRatio, fuseInto); got ${String(opts)}.`);
  return resolvePtlConfig({
    ...DEFAULT_PTL_CONFIG,
    ...(opts.cellRatio !== undefined ? { cellRatio: opts.cellRatio } : {}),
    ...(opts.fuseInto !== undefined ? { fuseInto: opts.fuseInto } : {}),
    seed,
  });
}

/** Whether a trained branch can be continued under these settings (the seed only matters for a fresh one). */
export function sameBranchShape(a: PtlConfig, b: PtlConfig): boolean {
  return a.cellRatio === b.cellRatio && a.kernel === b.kernel && a.fuseInto === b.fuseInto && a.carry === b.carry;
}

/** What the page shows about a model's branch: its settings and its cost beside the backbone's. */
export function ptlInfo(spec: ResNetSpec, branch: PtlSideBranch, steps: number): PtlInfo {
  return { ...costOf(spec, branch.config), steps };
}

/** The cost a branch with the page's settings would add to a model of this spec, before training. */
export function ptlCostPreview(spec: ResNetSpec, opts: PtlOptions): PtlCostPreview {
  return costOf(spec, ptlConfigFor(opts, DEFAULT_PTL_CONFIG.seed));
}

function costOf(spec: ResNetSpec, c: PtlConfig): PtlCostPreview {
  const cost = ptlCost(spec, c);
  return {
    cellRatio: c.cellRatio,
    fuseInto: c.fuseInto,
    kernel: c.kernel,
    carry: c.carry,
    branchMacs: cost.macs,
    branchParams: cost.params,
    backboneMacs: cost.backbone.macs,
    backboneParams: cost.backbone.params,
  };
}

/**
 * A copy of a branch's parameters (its carried cell state starts at zero, as every epoch does),
 * so a fine-tune that continues a branch can fail without touching the one the model keeps.
 */
export function copyBranch(spec: ResNetSpec, b: PtlSideBranch): PtlSideBranch {
  const copy = PtlSideBranch.create(spec, b.config);
  for (const [name, v] of b.params) copy.params.get(name)!.assign(v);
  return copy;
}
