/**
 * A strip of small images (a few identities, each across cameras) drawn with putImageData: the
 * worker sends raw RGBA bytes (transferred, not copied), so no image codec runs on this thread.
 */
import { memo, useEffect, useRef } from 'react';
import type { Thumbnail } from '../../workers/api';

function ThumbCanvas({ t }: { t: Thumbnail }) {
  const ref = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    const ctx = ref.current?.getContext('2d');
    if (!ctx) return;
    ctx.putImageData(new ImageData(new Uint8ClampedArray(t.rgba), t.width, t.height), 0, 0);
  }, [t]);
  return (
    <figure className="thumb" title={`identity ${t.pid}, camera ${t.camera} (${t.split})`}>
      <canvas ref={ref} width={t.width} height={t.height} data-testid="thumb" />
      <figcaption>c{t.camera}</figcaption>
    </figure>
  );
}

export const Thumbnails = memo(function Thumbnails({ thumbs }: { thumbs: Thumbnail[] }) {
  if (thumbs.length === 0) return null;
  const byPid = new Map<number, Thumbnail[]>();
  for (const t of thumbs) {
    if (!byPid.has(t.pid)) byPid.set(t.pid, []);
    byPid.get(t.pid)!.push(t);
  }
  return (
    <div className="thumbs" data-testid="thumbnails" aria-label="A few test identities seen by different cameras">
      {[...byPid.entries()].map(([pid, ts]) => (
        <div className="thumb-person" key={pid}>
          <div className="thumb-row">
            {ts.map((t) => (
              <ThumbCanvas key={`${t.pid}-${t.camera}`} t={t} />
            ))}
          </div>
          <div className="thumb-label">id {pid}</div>
        </div>
      ))}
    </div>
  );
});
