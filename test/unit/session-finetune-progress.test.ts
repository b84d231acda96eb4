/**
 * The page's live loss curve gets every step's loss. Progress events are throttled (about four a
 * second), so the steps in between travel in the next event that is sent; the last step's event
 * is always sent, or the points buffered since the previous one would never reach the page (a
 * fast machine then drew a one-point "curve"). The throttle's clock is frozen here, so every
 * event after the first is one the throttle would drop.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/engine/backend/init';
import { buildSpec } from '../../src/engine/model/spec';
import { initParamArrays } from '../../src/engine/model/init';
import { ReidModel } from '../../src/engine/model/model';
import { Job } from '../../src/workers/jobs';
import type { JobProgress } from '../../src/workers/api';
import { H, W, tinySession } from './session-fixtures';

const spec = buildSpec({ depth: 18, widthMultiplier: 0.125, inputHeight: H, inputWidth: W });

beforeAll(async () => {
  await initBackend('wasm');
});

describe('fine-tuning progress in the lab session', () => {
  it('delivers one loss point per step, in order, when the throttle drops every event but the first and the last', async () => {
    const s = tinySession(ReidModel.fromArrays(spec, initParamArrays(spec, 1)));

    const events: JobProgress[] = [];
    const frozen = () => 1000;
    const out = await s.fineTune({ steps: 5, lr: 1e-4, seed: 1 }, new Job('f', 'Fine-tuning', (e) => void events.push(e), frozen));

    const trainEvents = events.filter((e) => e.train);
    // The frozen clock lets the first event through and forces none but the last step's.
    expect(trainEvents.length).toBe(2);
    const points = trainEvents.flatMap((e) => e.train!.points);
    expect(points.map((p) => p.step)).toEqual([1, 2, 3, 4, 5]);
    for (const p of points) expect(Number.isFinite(p.loss)).toBe(true);
    expect(points[4].loss).toBeCloseTo(out.finalLoss, 6);
    expect(trainEvents[1].train!.step).toBe(5);
  }, 120_000);
});
