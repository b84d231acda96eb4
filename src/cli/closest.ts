/** "Did you mean": the known word closest to a mistyped one (Levenshtein distance), if close enough. */

export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row[j] = Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = row;
  }
  return prev[b.length];
}

/**
 * The closest of `known` to `word`, when within a third of its length (at least 2 edits). A word
 * of 3+ letters that starts a known one (an abbreviation: --finetune) counts as 1.5 edits, so a
 * real one-edit typo still wins over it.
 */
export function closest(word: string, known: readonly string[]): string | undefined {
  const w = word.toLowerCase();
  let best: string | undefined;
  let bestD = Infinity;
  for (const k of known) {
    const kk = k.toLowerCase();
    const d = editDistance(w, kk);
    const score = w.length >= 3 && kk.startsWith(w) ? Math.min(d, 1.5) : d;
    if (score < bestD) {
      bestD = score;
      best = k;
    }
  }
  return best !== undefined && bestD <= Math.max(2, Math.floor(w.length / 3)) ? best : undefined;
}
