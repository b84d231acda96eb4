/** SynthReID file names: Market-1501's `<pid>_c<camera>s<seq>_<frame>_<box>.jpg`. */

function pidField(pid: number): string {
  return pid < 0 ? '-1' : String(pid).padStart(4, '0');
}

/** Market-1501 file name: pid, camera, sequence, frame, box index. */
export function marketName(pid: number, camera: number, seq: number, frame: number, box: number, ext = 'jpg'): string {
  return `${pidField(pid)}_c${camera}s${seq}_${String(frame).padStart(6, '0')}_${String(box).padStart(2, '0')}.${ext}`;
}

const NAME_RE = /^(-1|\d{4})_c(\d)s(\d)_(\d{6})_(\d{2})\.(jpg|png)$/;

/** Parse a Market-1501 file name back to its pid and camera (null if it is not one). */
export function parseMarketName(name: string): { pid: number; camera: number; seq: number; frame: number; box: number } | null {
  const m = NAME_RE.exec(name);
  if (!m) return null;
  return { pid: Number(m[1]), camera: Number(m[2]), seq: Number(m[3]), frame: Number(m[4]), box: Number(m[5]) };
}
