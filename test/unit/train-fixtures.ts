/**
 * Small synthetic ReID data for trainer tests: each identity is a person-like figure with its own
 * upper/lower-body colours and stripe period; each image adds a random shift, brightness change
 * and pixel noise (seeded), so identities are learnable but not trivially identical images.
 */
import { Prng } from '../../src/engine/util/prng';
import type { ReidSplit } from '../../src/engine/data/types';

export function syntheticSplit(opts: { ids: number; perId: number; height: number; width: number; seed: number; firstPid?: number }): ReidSplit {
  const { ids, perId, height: h, width: w } = opts;
  const rng = new Prng(opts.seed);
  const count = ids * perId;
  const images = new Uint8Array(count * h * w * 3);
  const pids = new Int32Array(count);
  const camids = new Int32Array(count);
  const looks = Array.from({ length: ids }, () => ({
    top: [rng.int(0, 255), rng.int(0, 255), rng.int(0, 255)],
    bottom: [rng.int(0, 255), rng.int(0, 255), rng.int(0, 255)],
    period: rng.int(2, 6),
  }));
  let n = 0;
  for (let id = 0; id < ids; id++) {
    const look = looks[id];
    for (let j = 0; j < perId; j++, n++) {
      pids[n] = (opts.firstPid ?? 1) + id;
      camids[n] = 1 + (j % 3);
      const dy = rng.int(-3, 3);
      const dx = rng.int(-3, 3);
      const gain = rng.uniform(0.8, 1.2);
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          const yy = y - dy;
          const xx = x - dx;
          const inBody = xx > w * 0.25 && xx < w * 0.75 && yy > h * 0.1 && yy < h * 0.95;
          const o = ((n * h + y) * w + x) * 3;
          for (let c = 0; c < 3; c++) {
            let v = 110;
            if (inBody) {
              const base = yy < h * 0.5 ? look.top[c] : look.bottom[c];
              v = Math.floor(yy / look.period) % 2 === 0 ? base : base * 0.6;
            }
            images[o + c] = Math.max(0, Math.min(255, Math.round(v * gain + rng.normal(0, 12))));
          }
        }
      }
    }
  }
  return { images, count, height: h, width: w, pids, camids };
}
