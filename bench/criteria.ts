/**
 * Time to plan a prune (score channels + rank + reach the target) per criterion on ResNet-50,
 * weight-only criteria and data-driven ones (on a small batch of random images; the content
 * does not change the work). Runs under `npm run bench` (bench/run.ts), which writes the section.
 */
import { buildSpec } from '../src/engine/model/spec';
import { ReidModel } from '../src/engine/model/model';
import { planPrune, applyPlan } from '../src/engine/prune/plan';
import { CRITERIA } from '../src/engine/prune/criteria';
import { wantsData, type CriterionId } from '../src/engine/prune/criterion';
import type { ReidSplit } from '../src/engine/data/types';
import { Prng } from '../src/engine/util/prng';

function randomSplit(ids: number, perId: number, h: number, w: number): ReidSplit {
  const rng = new Prng(1);
  const count = ids * perId;
  const images = new Uint8Array(count * h * w * 3);
  for (let i = 0; i < images.length; i++) images[i] = rng.nextU32() & 0xff;
  return {
    images,
    count,
    height: h,
    width: w,
    pids: Int32Array.from({ length: count }, (_, i) => 1 + Math.floor(i / perId)),
    camids: Int32Array.from({ length: count }, (_, i) => 1 + (i % 6)),
  };
}

export async function runCriteriaBench(quick: boolean): Promise<string> {
  const width = quick ? 0.125 : 0.5;
  const [h, w] = quick ? [64, 32] : [128, 64];
  const spec = buildSpec({ depth: 50, widthMultiplier: width, inputHeight: h, inputWidth: w });
  const model = ReidModel.init(spec, 1);
  const batches = quick ? 1 : 2;
  const batchSize = 16;
  const data = { split: randomSplit(8, 8, h, w), batches, batchSize };
  const rows: string[] = [];
  const ids = (quick ? ['l1', 'fpgm', 'bn-scale', 'entropy'] : Object.keys(CRITERIA)) as CriterionId[];
  for (const id of ids) {
    const c = CRITERIA[id];
    const givesData = wantsData(c);
    const t0 = performance.now();
    let note = '';
    try {
      const plan = await planPrune(model, c, { criterion: id, rate: 0.3, scope: 'inner' }, { data: givesData ? data : undefined });
      const t1 = performance.now();
      const pruned = await applyPlan(model, plan, { criterion: c, data: givesData ? data : undefined });
      const t2 = performance.now();
      pruned.dispose();
      const line = `| ${c.name} (\`${id}\`) | ${c.needs} | ${((t1 - t0) / 1000).toFixed(2)} | ${((t2 - t1) / 1000).toFixed(2)} | ${givesData ? `${batches} x ${batchSize} images` : '-'} |`;
      rows.push(line);
      console.log(line);
    } catch (e) {
      note = (e as Error).message;
      rows.push(`| ${c.name} (\`${id}\`) | ${c.needs} | failed: ${note.replace(/\|/g, '/')} | | |`);
      console.log(`${id} failed: ${note}`);
    }
  }
  model.dispose();
  return [
    `ResNet-50 x${width} at ${h}x${w}, randomly initialised; remove 30% of every inner group's channels (local ranking). "Plan" scores every channel and picks the keep-sets (planPrune); "apply" is the surgery, plus the least-squares reconstruction for ThiNet and channel pruning (applyPlan). Data-driven criteria run on random images, ${batches} batch(es) of ${batchSize} at ${h}x${w}. Seconds, wall clock.`,
    '',
    '| Criterion | Needs | Plan s | Apply s | Data |',
    '|---|---|---:|---:|---|',
    ...rows,
  ].join('\n');
}
