/**
 * A folder dropped on the page arrives as FileSystemEntry objects (DataTransferItem
 * .webkitGetAsEntry()). This walks them into files with relative paths for blobFilesSource.
 * Call it where the drop happens (the UI thread): entries cannot be posted to a worker, the
 * resulting File objects can. Typed structurally, so the engine does not depend on DOM globals.
 *
 * readEntries returns at most ~100 entries per call; it must be called until it returns none,
 * or large folders (Market-1501's 19,732 gallery images) come back truncated.
 */

export interface DroppedEntry {
  isFile: boolean;
  isDirectory: boolean;
  name: string;
}
interface DroppedFileEntry extends DroppedEntry {
  file(success: (f: File) => void, failure?: (e: unknown) => void): void;
}
interface DroppedDirEntry extends DroppedEntry {
  createReader(): { readEntries(success: (es: DroppedEntry[]) => void, failure?: (e: unknown) => void): void };
}

export async function collectDroppedFiles(entries: readonly DroppedEntry[]): Promise<{ path: string; file: File }[]> {
  const out: { path: string; file: File }[] = [];
  async function visit(entry: DroppedEntry, prefix: string): Promise<void> {
    const path = prefix === '' ? entry.name : `${prefix}/${entry.name}`;
    if (entry.isFile) {
      const file = await new Promise<File>((res, rej) => (entry as DroppedFileEntry).file(res, rej));
      out.push({ path, file });
    } else if (entry.isDirectory) {
      const reader = (entry as DroppedDirEntry).createReader();
      for (;;) {
        const batch = await new Promise<DroppedEntry[]>((res, rej) => reader.readEntries(res, rej));
        if (batch.length === 0) break;
        for (const child of batch) await visit(child, path);
      }
    }
  }
  for (const e of entries) await visit(e, '');
  return out;
}
