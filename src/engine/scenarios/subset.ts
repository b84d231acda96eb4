/**
 * The data a scenario works on, chosen reproducibly from a ReID dataset:
 * - the fine-tuning subset: N training identities x K images each (seeded), spread over cameras,
 *   from the TRAIN split only, so it never shares identities with the query/gallery;
 * - optionally a smaller evaluation set (a seeded share of the test identities, with the same
 *   share of distractors and junk), for quick runs.
 * The selection rule is the lab UI's (same PRNG fork), so a seed picks the same images there.
 */
import { LabError } from '../errors';
import { Prng } from '../util/prng';
import { subsetSplit, type ReidDataset, type ReidSplit } from '../data/types';
import { assertDisjointIdentities } from '../train/identities';

export interface SubsetRequest {
  identities: number;
  imagesPerIdentity: number;
  seed: number;
}

function wholeAtLeast(v: unknown, min: number, what: string): void {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw new LabError('bad-argument', `${what} must be a whole number of at least ${min}; got ${String(v)}.`);
}

function indicesByPid(split: ReidSplit): Map<number, number[]> {
  const byPid = new Map<number, number[]>();
  for (let i = 0; i < split.count; i++) {
    const pid = split.pids[i];
    if (pid <= 0) continue;
    const list = byPid.get(pid);
    if (list) list.push(i);
    else byPid.set(pid, [i]);
  }
  return byPid;
}

/**
 * `identities` training identities with up to `imagesPerIdentity` images each (fewer when an
 * identity has fewer), round-robin over cameras. Checked disjoint from the dataset's query and
 * gallery identities.
 */
export function selectFineTuneSubset(d: ReidDataset, req: SubsetRequest): ReidSplit {
  wholeAtLeast(req.identities, 2, 'The number of fine-tuning identities');
  wholeAtLeast(req.imagesPerIdentity, 2, 'Images per fine-tuning identity');
  const t = d.train;
  const byPid = indicesByPid(t);
  if (byPid.size < req.identities) {
    throw new LabError('bad-dataset', `The training split of ${d.name} has ${byPid.size} identities; the fine-tuning subset asks for ${req.identities}.`);
  }
  const prng = new Prng(req.seed).fork('finetune-subset');
  const pids = prng.shuffle([...byPid.keys()].sort((a, b) => a - b)).slice(0, req.identities);
  const chosen: number[] = [];
  for (const pid of pids) {
    // Round-robin over cameras so the few images per identity show it from different views.
    const byCam = new Map<number, number[]>();
    for (const i of byPid.get(pid)!) {
      const c = t.camids[i];
      if (!byCam.has(c)) byCam.set(c, []);
      byCam.get(c)!.push(i);
    }
    const lists = [...byCam.values()].map((l) => prng.shuffle([...l]));
    const picked: number[] = [];
    for (let round = 0; picked.length < req.imagesPerIdentity && lists.some((l) => l.length > round); round++) {
      for (const l of lists) if (l.length > round && picked.length < req.imagesPerIdentity) picked.push(l[round]);
    }
    chosen.push(...picked.sort((a, b) => a - b));
  }
  const split = subsetSplit(t, chosen);
  assertDisjointIdentities(split, d.query, d.gallery);
  return split;
}

/**
 * A smaller evaluation set: `identities` of the test identities (seeded), all their query and
 * gallery images, and the same share of the distractors (pid 0) and junk (pid -1), so the task
 * keeps its difficulty mix. All test identities when `identities` is at least their number.
 */
export function evaluationSubset(d: Pick<ReidDataset, 'query' | 'gallery'>, identities: number, seed: number): { query: ReidSplit; gallery: ReidSplit } {
  const rows = evaluationSubsetRows(d, identities, seed);
  return rows ? { query: subsetSplit(d.query, rows.query), gallery: subsetSplit(d.gallery, rows.gallery) } : { query: d.query, gallery: d.gallery };
}

/**
 * The rows of the query and gallery splits evaluationSubset keeps (ascending), or null when it
 * keeps everything: an embedding cache maps the subset back to the splits' rows with them.
 */
export function evaluationSubsetRows(d: Pick<ReidDataset, 'query' | 'gallery'>, identities: number, seed: number): { query: number[]; gallery: number[] } | null {
  wholeAtLeast(identities, 2, 'The number of evaluation identities');
  const ids = [...new Set([...d.query.pids].filter((p) => p > 0))].sort((a, b) => a - b);
  if (identities >= ids.length) return null;
  const keep = new Set(new Prng(seed).fork('evaluation-subset').shuffle(ids).slice(0, identities));
  const share = identities / ids.length;
  const pick = (s: ReidSplit) => {
    const out: number[] = [];
    let others = 0;
    for (let i = 0; i < s.count; i++) {
      const p = s.pids[i];
      if (p > 0) {
        if (keep.has(p)) out.push(i);
      } else if (Math.floor((others + 1) * share) > Math.floor(others++ * share)) {
        // Every (1/share)-th distractor or junk image, deterministically.
        out.push(i);
      }
    }
    return out;
  };
  return { query: pick(d.query), gallery: pick(d.gallery) };
}
