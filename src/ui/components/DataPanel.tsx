/**
 * Step 2: the target domain. SynthReID (generated in the worker, seeded) or a real dataset the
 * user drops (Market-1501, DukeMTMC-reID, CUHK03-NP, MSMT17; folder or zip). The evaluation
 * uses its query/gallery sets; fine-tuning only a small labelled subset of its training split.
 */
import { memo, useState, type DragEvent } from 'react';
import { collectDroppedFiles, type DroppedEntry } from '../../engine/data/market/dropped';
import type { DatasetSummary, FineTuneSplitSummary, Thumbnail } from '../../workers/api';
import type { LabConfig } from '../url';
import { Panel } from './Panel';
import { InlineJob } from './InlineJob';
import type { JobView } from '../useLab';
import { Thumbnails } from './Thumbnails';

interface Props {
  config: LabConfig;
  setConfig(p: Partial<LabConfig>): void;
  dataset: DatasetSummary | null;
  ftSplit: FineTuneSplitSummary | null;
  thumbs: Thumbnail[];
  busy: boolean;
  /** The running dataset job (generate, load), shown next to its button. */
  job?: JobView;
  onGenerate(): void;
  onFiles(files: { path: string; file: File }[], testIdentities: number): void;
}

/** Files of a drop: walk dropped folders (entries); plain files (or synthetic drops) as they are. */
async function droppedFiles(e: DragEvent): Promise<{ path: string; file: File }[]> {
  const dt = e.dataTransfer;
  const entries: DroppedEntry[] = [];
  for (const item of Array.from(dt.items ?? [])) {
    const entry = item.kind === 'file' ? (item as DataTransferItem & { webkitGetAsEntry?: () => DroppedEntry | null }).webkitGetAsEntry?.() : null;
    if (entry) entries.push(entry);
  }
  if (entries.length > 0) return collectDroppedFiles(entries);
  return Array.from(dt.files).map((file) => ({ path: file.name, file }));
}

function pickedFiles(list: FileList | null): { path: string; file: File }[] {
  return Array.from(list ?? []).map((file) => ({ path: (file as File & { webkitRelativePath?: string }).webkitRelativePath || file.name, file }));
}

export const DataPanel = memo(function DataPanel({ config, setConfig, dataset, ftSplit, thumbs, busy, job, onGenerate, onFiles }: Props) {
  const [over, setOver] = useState(false);
  const [quickIds, setQuickIds] = useState(100);
  const onDrop = (e: DragEvent) => {
    e.preventDefault();
    setOver(false);
    if (busy) return;
    void droppedFiles(e).then((files) => onFiles(files, quickIds));
  };
  return (
    <Panel id="data" title="Data" step={2}>
      <fieldset className="controls" disabled={busy}>
        <legend>SynthReID (built in)</legend>
        <label>
          Tier{' '}
          <select data-testid="tier" value={config.tier} onChange={(e) => setConfig({ tier: e.target.value as LabConfig['tier'] })}>
            <option value="XS">XS (tests, ~300 images)</option>
            <option value="S">S (~150 + 150 identities)</option>
          </select>
        </label>
        <label>
          Domain{' '}
          <select data-testid="domain" value={config.domain} onChange={(e) => setConfig({ domain: e.target.value as LabConfig['domain'] })}>
            <option value="target">target</option>
            <option value="source">source</option>
          </select>
        </label>
        <label className={config.domain === 'source' ? 'dim' : ''} title="0: the target cameras look like the source cameras; 1: the full domain shift">
          Domain shift {config.shift.toFixed(2)}
          <input type="range" min={0} max={1} step={0.05} value={config.shift} disabled={config.domain === 'source'} onChange={(e) => setConfig({ shift: Number(e.target.value) })} />
        </label>
        <label>
          Seed <input className="num" type="number" value={config.dataSeed} min={0} onChange={(e) => setConfig({ dataSeed: Math.max(0, Math.floor(Number(e.target.value) || 0)) })} />
        </label>
        <button type="button" data-testid="generate" onClick={onGenerate}>
          Generate
        </button>
      </fieldset>
      <InlineJob job={job} testId="data-progress" />

      <div
        className={`dropzone ${over ? 'over' : ''}`}
        data-testid="dataset-drop"
        onDragOver={(e) => {
          e.preventDefault();
          setOver(true);
        }}
        onDragLeave={() => setOver(false)}
        onDrop={onDrop}
      >
        <p>
          Or drop a <strong>Market-1501</strong>, <strong>DukeMTMC-reID</strong>, <strong>CUHK03-NP</strong> or <strong>MSMT17</strong> folder or zip here. It is read
          on this machine; nothing is uploaded.
        </p>
        <div className="row">
          <label className="filebtn">
            Choose zip…
            <input type="file" accept=".zip" disabled={busy} data-testid="dataset-zip" onChange={(e) => onFiles(pickedFiles(e.target.files), quickIds)} />
          </label>
          <label className="filebtn">
            Choose folder…
            <input type="file" disabled={busy} {...{ webkitdirectory: '', directory: '' }} onChange={(e) => onFiles(pickedFiles(e.target.files), quickIds)} />
          </label>
          <label title="Evaluating all of Market-1501 in a browser takes minutes; a seeded subset of test identities is quick.">
            Test identities{' '}
            <input className="num" type="number" min={0} value={quickIds} onChange={(e) => setQuickIds(Math.max(0, Math.floor(Number(e.target.value) || 0)))} />{' '}
            <span className="muted">(0 = all)</span>
          </label>
        </div>
      </div>

      {dataset && (
        <div className="dataset" data-testid="dataset-summary" data-name={dataset.name}>
          <div>
            <strong data-testid="dataset-name">{dataset.name}</strong> <span className="muted">{dataset.height}×{dataset.width}</span>
          </div>
          <table className="mini">
            <tbody>
              {(['train', 'query', 'gallery'] as const).map((s) => (
                <tr key={s}>
                  <th>{s}</th>
                  <td data-testid={`count-${s}`}>{dataset[s].images} images</td>
                  <td>{dataset[s].identities} identities</td>
                  <td>{dataset[s].cameras} cameras</td>
                </tr>
              ))}
            </tbody>
          </table>
          {dataset.report.length > 0 && (
            <ul className="report" data-testid="dataset-report">
              {dataset.report.map((r) => (
                <li key={r}>{r}</li>
              ))}
            </ul>
          )}
          <Thumbnails thumbs={thumbs} />
          {ftSplit && (
            <p className="muted" data-testid="ft-split-summary">
              Fine-tuning subset: {ftSplit.identities} identities × {config.ftPerId} images = {ftSplit.images} images from the training split (of {ftSplit.ofIdentities}{' '}
              identities){ftSplit.disjointFromEvaluation ? '; none of them is in the query or gallery set.' : '.'}
            </p>
          )}
        </div>
      )}
    </Panel>
  );
});
