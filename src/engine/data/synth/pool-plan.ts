/**
 * Planning tier P, the pre-training pool: who appears under which camera visit and file name.
 *
 * Like planSynthReid's plan for a domain, except that a person's cameras are visits: slots
 * c1..c6 of the file name, each with its own randomised camera (pool-cameras.ts). A training
 * person gets trainImagesPerId images spread as evenly as possible over trainCams visits; test
 * people get one query and a few gallery images per visit, as in the other tiers, plus
 * distractors (pid 0) and junk (pid -1), each under a camera of its own.
 */
import type { Prng } from '../../util/prng';
import type { CameraParams, SceneParams } from './cameras';
import type { PlannedImage, SynthSplitName } from './dataset';
import { marketName } from './file-names';
import { sampleStranger, type Identity } from './identities';
import { POOL_MAX_SLOTS, poolVisitCamera } from './pool-cameras';
import type { ImageKind } from './render';
import type { Roster } from './roster';
import type { SynthTierSpec } from './tiers';

export function planPoolSplits(root: Prng, spec: SynthTierSpec, roster: Roster, scenes: readonly SceneParams[]): Record<SynthSplitName, PlannedImage[]> {
  const prng = root.fork('plan');
  const frames = new Array<number>(POOL_MAX_SLOTS + 1).fill(0);
  const splits: Record<SynthSplitName, PlannedImage[]> = { train: [], query: [], gallery: [] };
  const visitCameras = new Map<string, CameraParams>();
  const seqOf = (pid: number, slot: number) => 1 + (root.fork(`seq/${pid}/${slot}`).nextU32() % 6);
  const add = (split: SynthSplitName, pid: number, slot: number, cameraKey: string, kind: ImageKind, person: Identity | null, key: string) => {
    frames[slot] += 1 + prng.int(0, 40);
    const box = kind === 'person' ? prng.int(1, 3) : prng.int(1, 8);
    // One camera per visit, shared by the visit's images.
    let cameraParams = visitCameras.get(cameraKey);
    if (!cameraParams) visitCameras.set(cameraKey, (cameraParams = poolVisitCamera(root, cameraKey, slot, scenes)));
    splits[split].push({ split, pid, camera: slot, kind, name: marketName(pid, slot, seqOf(pid, slot), frames[slot], box), request: { person, camera: slot, kind, key, cameraParams } });
  };
  const slots = Array.from({ length: POOL_MAX_SLOTS }, (_, i) => i + 1);
  const [minImages, maxImages] = spec.trainImagesPerId ?? [spec.trainCams[0] * spec.trainImagesPerCam[0], spec.trainCams[1] * spec.trainImagesPerCam[1]];
  for (const p of roster.train) {
    const visits = prng.shuffle([...slots]).slice(0, prng.int(spec.trainCams[0], Math.min(spec.trainCams[1], POOL_MAX_SLOTS)));
    const n = prng.int(minImages, maxImages);
    const base = Math.floor(n / visits.length);
    const extra = n - base * visits.length;
    visits.forEach((slot, v) => {
      for (let i = 0; i < base + (v < extra ? 1 : 0); i++) add('train', p.pid, slot, `${p.pid}/${slot}`, 'person', p, `img/${p.pid}/${slot}/${i}`);
    });
  }
  for (const p of roster.test) {
    const visits = prng.shuffle([...slots]).slice(0, prng.int(Math.max(2, spec.testCams[0]), Math.min(spec.testCams[1], POOL_MAX_SLOTS)));
    for (const slot of visits) {
      add('query', p.pid, slot, `${p.pid}/${slot}`, 'person', p, `img/${p.pid}/${slot}/0`);
      const n = prng.int(spec.galleryPerCam[0], spec.galleryPerCam[1]);
      for (let i = 1; i <= n; i++) add('gallery', p.pid, slot, `${p.pid}/${slot}`, 'person', p, `img/${p.pid}/${slot}/${i}`);
    }
  }
  for (let k = 0; k < spec.distractors; k++) {
    const ghost = roster.ghosts.length > 0 && prng.bool(0.6);
    const person = ghost ? prng.pick(roster.ghosts) : sampleStranger(root.fork(`stranger/${k}`), 'pool');
    add('gallery', 0, prng.int(1, POOL_MAX_SLOTS), `distractor/${k}`, 'distractor', person, `distractor/${k}`);
  }
  for (let k = 0; k < spec.junk; k++) {
    const r = prng.next();
    const person = r < 0.5 ? prng.pick(roster.test) : r < 0.75 ? sampleStranger(root.fork(`junk-stranger/${k}`), 'pool') : null;
    add('gallery', -1, prng.int(1, POOL_MAX_SLOTS), `junk/${k}`, 'junk', person, `junk/${k}`);
  }
  // Market-1501 folders list files by name.
  for (const s of Object.values(splits)) s.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return splits;
}
