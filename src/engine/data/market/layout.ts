/**
 * Which ReID dataset a set of paths holds, and where its splits are. The archive or folder may
 * wrap the dataset in any number of top folders (e.g. Market-1501-v15.09.15/).
 *
 * - Market-1501, DukeMTMC-reID, CUHK03-NP: a root folder with bounding_box_test/ (gallery) and
 *   query/, and usually bounding_box_train/. CUHK03-NP has two such roots, detected/ and
 *   labeled/ (torchreid's default is detected).
 * - MSMT17 (V1 or V2): a root with list_query.txt and list_gallery.txt (plus list_train.txt,
 *   list_val.txt) whose paths are relative to train/ and test/ (V2: mask_train_v2/, mask_test_v2/).
 */
import { LabError } from '../../errors';
import { nameStyle } from './names';

export type DatasetFamily = 'market1501' | 'dukemtmc-reid' | 'cuhk03-np' | 'market-style' | 'msmt17';

export const FAMILY_NAMES: Record<DatasetFamily, string> = {
  'market1501': 'Market-1501',
  'dukemtmc-reid': 'DukeMTMC-reID',
  'cuhk03-np': 'CUHK03-NP',
  'market-style': 'ReID dataset (Market-1501 layout)',
  'msmt17': 'MSMT17',
};

export interface MarketStyleLayout {
  kind: 'market-style';
  family: Exclude<DatasetFamily, 'msmt17'>;
  /** Root folder ('' when the splits are at the top). */
  root: string;
  /** Folder prefixes ending in '/', e.g. "Market-1501-v15.09.15/query/". */
  dirs: { train: string | null; query: string; gallery: string };
}

export interface MsmtLayout {
  kind: 'msmt17';
  family: 'msmt17';
  root: string;
  /** Paths of the list files (train/val may be missing). */
  lists: { train: string | null; val: string | null; query: string; gallery: string };
}

export type DatasetLayout = MarketStyleLayout | MsmtLayout;

export interface LayoutOptions {
  /** Which CUHK03-NP root to use when both are present (default 'detected'). */
  cuhk03Variant?: 'detected' | 'labeled';
  /** Pick a root folder explicitly when several datasets are present. */
  root?: string;
  /** For messages. */
  sourceName?: string;
}

const join = (root: string, name: string) => (root === '' ? name : `${root}/${name}`);

/** A short listing of what is there, for "found: ..." in error messages. */
export function describeTop(paths: readonly string[], max = 12): string {
  const firsts = new Set(paths.map((p) => p.split('/')[0]));
  let level = 1;
  if (firsts.size === 1 && paths.every((p) => p.includes('/'))) level = 2;
  const names = new Set<string>();
  for (const p of paths) {
    const parts = p.split('/');
    const shown = parts.slice(0, level);
    names.add(shown.join('/') + (parts.length > level ? '/' : ''));
  }
  const list = [...names].sort();
  if (list.length === 0) return 'nothing (it is empty)';
  return list.slice(0, max).join(', ') + (list.length > max ? `, and ${list.length - max} more` : '');
}

function marketFamily(root: string, galleryFiles: string[]): MarketStyleLayout['family'] {
  const lower = root.toLowerCase();
  if (lower.includes('cuhk03')) return 'cuhk03-np';
  const counts = { market: 0, duke: 0, plain: 0 };
  for (const f of galleryFiles.slice(0, 200)) {
    const s = nameStyle(f);
    if (s) counts[s]++;
  }
  if (counts.market > 0 && counts.market >= counts.duke) return 'market1501';
  if (counts.duke > 0) return 'dukemtmc-reid';
  if (lower.includes('duke')) return 'dukemtmc-reid';
  if (lower.includes('market')) return 'market1501';
  return 'market-style';
}

export function detectLayout(paths: readonly string[], opts: LayoutOptions = {}): DatasetLayout {
  const source = opts.sourceName ?? 'The selected files';
  const dirs = new Set<string>();
  for (const p of paths) {
    const parts = p.split('/');
    for (let k = 1; k < parts.length; k++) dirs.add(parts.slice(0, k).join('/'));
  }
  const hasDir = (d: string) => dirs.has(d);
  const fileSet = new Set(paths);

  // MSMT17: list files.
  const msmtRoots = paths
    .filter((p) => p === 'list_query.txt' || p.endsWith('/list_query.txt'))
    .map((p) => p.slice(0, Math.max(0, p.length - 'list_query.txt'.length - 1)))
    .filter((r) => fileSet.has(join(r, 'list_gallery.txt')));

  // Market-style: a folder containing both bounding_box_test/ and query/.
  const marketRoots = [...new Set([...dirs, ''])].filter(
    (r) => hasDir(join(r, 'bounding_box_test')) && hasDir(join(r, 'query')),
  );

  let candidates: { root: string; kind: 'msmt17' | 'market-style' }[] = [
    ...msmtRoots.map((root) => ({ root, kind: 'msmt17' as const })),
    ...marketRoots.map((root) => ({ root, kind: 'market-style' as const })),
  ];
  if (opts.root !== undefined) {
    const want = opts.root.replace(/\/+$/, '');
    candidates = candidates.filter((c) => c.root === want);
    if (candidates.length === 0) {
      throw new LabError('bad-dataset', `${source} has no ReID dataset in the folder "${opts.root}"; found: ${describeTop(paths)}.`);
    }
  }
  if (candidates.length === 0) {
    const hasQuery = [...dirs].some((d) => d === 'query' || d.endsWith('/query'));
    const hint = hasQuery ? ' There is a query/ folder but no bounding_box_test/ folder next to it.' : '';
    throw new LabError(
      'bad-dataset',
      `${source} does not look like a ReID dataset: expected a bounding_box_test/ folder next to query/ ` +
        `(Market-1501, DukeMTMC-reID, CUHK03-NP) or MSMT17's list_query.txt and list_gallery.txt; found: ${describeTop(paths)}.${hint}`,
    );
  }
  if (candidates.length > 1) {
    const variant = opts.cuhk03Variant ?? 'detected';
    const cuhk = candidates.filter((c) => c.root.toLowerCase().includes('cuhk03') && c.root.split('/').pop() === variant);
    if (cuhk.length === 1) candidates = cuhk;
  }
  if (candidates.length > 1) {
    throw new LabError(
      'bad-dataset',
      `${source} holds more than one ReID dataset (${candidates.map((c) => `"${c.root || '.'}"`).join(', ')}); choose one root folder.`,
      { roots: candidates.map((c) => c.root) },
    );
  }
  const { root, kind } = candidates[0];
  if (kind === 'msmt17') {
    const opt = (f: string) => (fileSet.has(join(root, f)) ? join(root, f) : null);
    return {
      kind, family: 'msmt17', root,
      lists: { train: opt('list_train.txt'), val: opt('list_val.txt'), query: join(root, 'list_query.txt'), gallery: join(root, 'list_gallery.txt') },
    };
  }
  const prefix = (d: string) => `${join(root, d)}/`;
  const gallery = prefix('bounding_box_test');
  const galleryFiles = paths.filter((p) => p.startsWith(gallery));
  return {
    kind,
    family: marketFamily(root, galleryFiles),
    root,
    dirs: {
      train: hasDir(join(root, 'bounding_box_train')) ? prefix('bounding_box_train') : null,
      query: prefix('query'),
      gallery,
    },
  };
}
