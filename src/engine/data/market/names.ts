/**
 * Identity and camera from ReID image file names.
 *
 * - Market-1501: `0002_c1s1_000451_03.jpg` = person 0002, camera 1, sequence 1, frame 451,
 *   detection box 3. Person `-1` is junk, `0000` a distractor.
 * - DukeMTMC-reID: `0005_c2_f0046985.jpg` = person 0005, camera 2, frame 46985.
 * - CUHK03-NP: Market-like, `0001_c1_1.png` (cameras 1 and 2).
 * - MSMT17: `0000_000_01_0303morning_0015_0.jpg` = person 0000 (numbered from 0 per split),
 *   image 000, camera 01, weather/time and frame fields after. Identity comes from the list
 *   file's label; only the camera is read from the name.
 *
 * All three Market-style families share torchreid's pattern `([-\d]+)_c(\d)`; this parser
 * also records Market's and Duke's extra fields where present. Cameras are 1-based.
 */

export interface ParsedName {
  pid: number;
  camid: number;
  /** Market: sequence; others: undefined. */
  sequence?: number;
  /** Market/Duke frame number. */
  frame?: number;
  /** Market: detection box index. */
  box?: number;
}

/**
 * Labels are stored in Int32Arrays (ReidSplit.pids / camids): a larger number would wrap, e.g.
 * person 4294967295 would become -1 (junk) and person 2147483648 a negative id, so such names
 * are refused rather than silently relabelled.
 */
export const MAX_LABEL = 2 ** 31 - 1;

const MARKET_STYLE = /^(-?\d+)_c(\d+)/;
const MARKET = /^(-?\d+)_c(\d+)s(\d+)_(\d+)_(\d+)/;
const DUKE = /^(\d+)_c(\d+)_f(\d+)/;
const MSMT = /^(\d+)_(\d+)_(\d+)_/;

/** The last path component. */
export function baseName(path: string): string {
  const i = path.lastIndexOf('/');
  return i < 0 ? path : path.slice(i + 1);
}

/** Parse a Market-1501 / DukeMTMC-reID / CUHK03-NP file name (a bare name or a path). */
export function parseMarketStyleName(path: string): ParsedName | null {
  const name = baseName(path);
  const m = MARKET_STYLE.exec(name);
  if (!m) return null;
  const pid = Number(m[1]);
  const camid = Number(m[2]);
  if (!Number.isSafeInteger(pid) || pid < -1 || pid > MAX_LABEL || !(camid >= 1 && camid <= MAX_LABEL)) return null;
  const out: ParsedName = { pid, camid };
  const mk = MARKET.exec(name);
  if (mk) {
    out.sequence = Number(mk[3]);
    out.frame = Number(mk[4]);
    out.box = Number(mk[5]);
  } else {
    const dk = DUKE.exec(name);
    if (dk) out.frame = Number(dk[3]);
  }
  return out;
}

/** Camera (1-based) from an MSMT17 file name, or null. */
export function parseMsmtCamera(path: string): number | null {
  const m = MSMT.exec(baseName(path));
  if (!m) return null;
  const cam = Number(m[3]);
  return cam >= 1 && cam <= MAX_LABEL ? cam : null;
}

/** Which Market-style family a file name looks like. */
export function nameStyle(path: string): 'market' | 'duke' | 'plain' | null {
  const name = baseName(path);
  if (MARKET.test(name)) return 'market';
  if (DUKE.test(name)) return 'duke';
  return MARKET_STYLE.test(name) ? 'plain' : null;
}

/** One line of an MSMT17 list file: "relative/path.jpg label". */
export function parseListLine(line: string): { path: string; label: number } | null {
  const t = line.trim();
  if (t === '') return null;
  const m = /^(\S+)\s+(\d+)$/.exec(t);
  if (!m) return null;
  const label = Number(m[2]);
  return label <= MAX_LABEL ? { path: m[1], label } : null;
}
