/**
 * `lab scenario`: run one of the paper's scenarios on a model folder (SynthReID source as the
 * pre-training domain, target as the operational one) and print what it did: the steps, images
 * seen, cost and accuracy before and after. The MACs target is given directly, or as "the cost
 * of this smaller model" (--small DIR: e.g. ResNet-50 pruned to ResNet-18's MACs).
 */
import { loadCliModel } from '../model';
import { generateSynthReid } from '../../engine/data/synth';
import type { SynthTier } from '../../engine/data/synth';
import { LabError } from '../../engine/errors';
import { buildSpec } from '../../engine/model/spec';
import { CRITERIA } from '../../engine/prune/criteria/index';
import type { PruneScope } from '../../engine/prune/groups';
import type { RankingMode } from '../../engine/prune/settings';
import { equalCostKeep } from '../../engine/scenarios/budget';
import { runScenario } from '../../engine/scenarios/run';
import { SCENARIO_NUMBER, SCENARIO_TITLE, type PruneMethod, type ScenarioConfig, type ScenarioId } from '../../engine/scenarios/types';
import { loadArraysFromFolder } from '../../node/model-files';
import { ProgressBar } from '../progress';
import { bool, num, oneOf, optStr, str, type Flags } from '../args';
import { fineTuneData, formatBeforeAfter } from './finetune';

const BY_NUMBER: Record<string, ScenarioId> = Object.fromEntries(Object.entries(SCENARIO_NUMBER).map(([id, n]) => [String(n), id as ScenarioId]));

export async function scenarioCommand(flags: Flags): Promise<void> {
  const which = str(flags, 'scenario');
  const scenario = BY_NUMBER[which] ?? (which in SCENARIO_NUMBER ? (which as ScenarioId) : undefined);
  if (!scenario) throw new LabError('bad-argument', `--scenario must be 1, 2, 3 or 4 (or ${Object.keys(SCENARIO_NUMBER).join(', ')}); got "${which}".`);
  const { model } = await loadCliModel(flags);
  try {
    let macsKeep: number | undefined;
    if (scenario !== 'finetune-only') {
      const small = optStr(flags, 'small');
      if (small) macsKeep = equalCostKeep(model.spec, (await loadArraysFromFolder(small)).spec);
      else if (flags['macs-target'] !== undefined) macsKeep = num(flags, 'macs-target', 0.5, { min: 0, max: 1 });
      else macsKeep = equalCostKeep(model.spec, buildSpec({ depth: 18, widthMultiplier: model.spec.widthMultiplier, inputHeight: model.spec.input.height, inputWidth: model.spec.input.width, lastStride: model.spec.lastStride }));
    }
    const seed = num(flags, 'seed', 1, { integer: true, min: 0 });
    const cfg: ScenarioConfig = {
      scenario,
      budget: {
        steps: num(flags, 'steps', 100, { integer: true, min: 1 }),
        p: num(flags, 'p', 8, { integer: true, min: 2 }),
        k: num(flags, 'k', 4, { integer: true, min: 2 }),
        lr: num(flags, 'lr', 1e-4, { min: 0 }),
      },
      scope: oneOf<PruneScope>(flags, 'scope', ['inner', 'inner+trunk'], 'inner'),
      ranking: oneOf<RankingMode>(flags, 'ranking', ['local', 'global'], 'local'),
      criterionBatches: num(flags, 'criterion-batches', 4, { integer: true, min: 1 }),
      seed,
    };
    if (macsKeep !== undefined) cfg.macsKeep = macsKeep;
    if (scenario !== 'finetune-only') cfg.method = oneOf<PruneMethod>(flags, 'method', [...(Object.keys(CRITERIA) as PruneMethod[]), 'auto-balanced', 'psfp', 'fpgm-soft'], scenario === 'prune-while-finetuning' ? 'psfp' : 'l1');
    const data = await fineTuneData(flags, model.spec.input);
    const sourceTrain =
      scenario === 'prune-at-source'
        ? generateSynthReid({ tier: oneOf<SynthTier>(flags, 'tier', ['XS', 'S', 'M'], 'S'), domain: 'source', height: model.spec.input.height, width: model.spec.input.width }).dataset.train
        : undefined;
    const bar = new ProgressBar(`scenario ${SCENARIO_NUMBER[scenario]}`, 100);
    const { result } = await runScenario(model, { fineTune: data.fineTune, evaluation: data.evaluation, sourceTrain }, cfg, {
      onProgress: (p) => bar.update(Math.round(100 * p.fraction), p.message),
    });
    bar.finish();
    if (bool(flags, 'json')) {
      process.stdout.write(JSON.stringify(result, null, 2) + '\n');
      return;
    }
    const lines = [
      `Scenario ${result.scenarioNumber}: ${SCENARIO_TITLE[scenario]}${result.method ? ` (${result.method})` : ''}, seed ${seed}`,
      ...result.steps.map((s, i) => `  ${i + 1}. ${s.label} [${s.domain}]${s.trainSteps ? `: ${s.trainSteps} steps, ${s.images} images` : ''} (${(s.ms / 1000).toFixed(1)}s)`),
      `Training images seen: ${result.imagesSeen} (identities: ${result.trainingIdentities.length}, all from the target training split)`,
      result.macsKeepRequested !== undefined ? `MACs kept: ${(100 * result.macsKeepReached!).toFixed(1)}% (asked ${(100 * result.macsKeepRequested).toFixed(1)}%)` : '',
      formatBeforeAfter(result.before, result.after),
      `Total ${(result.timingsMs.total / 1000).toFixed(1)}s (training ${(result.timingsMs.training / 1000).toFixed(1)}s, pruning ${(result.timingsMs.pruning / 1000).toFixed(1)}s, evaluation ${(result.timingsMs.evaluation / 1000).toFixed(1)}s).`,
    ];
    process.stdout.write(lines.filter(Boolean).join('\n') + '\n');
  } finally {
    model.dispose();
  }
}
