// "Did you mean …?" for names typed by people: columns, tables, relationships.

/**
 * Damerau–Levenshtein distance (insertions, deletions, substitutions and
 * transpositions of adjacent characters, unrestricted: a transposed pair may
 * be edited again), counted in Unicode code points.
 */
export function editDistance(a: string, b: string): number {
  const s = Array.from(a);
  const t = Array.from(b);
  const n = s.length;
  const m = t.length;
  if (n === 0) return m;
  if (m === 0) return n;

  const max = n + m;
  // d is (n + 2) × (m + 2), row-major; row/column 0 hold the sentinel `max`.
  const width = m + 2;
  const d = new Array<number>((n + 2) * width).fill(0);
  const at = (i: number, j: number) => i * width + j;
  d[at(0, 0)] = max;
  for (let i = 0; i <= n; i++) {
    d[at(i + 1, 0)] = max;
    d[at(i + 1, 1)] = i;
  }
  for (let j = 0; j <= m; j++) {
    d[at(0, j + 1)] = max;
    d[at(1, j + 1)] = j;
  }
  // Last row in which each character was seen in `s`.
  const lastRow = new Map<string, number>();
  for (let i = 1; i <= n; i++) {
    let lastMatchCol = 0;
    for (let j = 1; j <= m; j++) {
      const i1 = lastRow.get(t[j - 1]!) ?? 0;
      const j1 = lastMatchCol;
      const cost = s[i - 1] === t[j - 1] ? 0 : 1;
      if (cost === 0) lastMatchCol = j;
      d[at(i + 1, j + 1)] = Math.min(
        d[at(i, j)]! + cost, // substitution (or match)
        d[at(i + 1, j)]! + 1, // insertion
        d[at(i, j + 1)]! + 1, // deletion
        d[at(i1, j1)]! + (i - i1 - 1) + 1 + (j - j1 - 1), // transposition
      );
    }
    lastRow.set(s[i - 1]!, i);
  }
  return d[at(n + 1, m + 1)]!;
}

/**
 * The candidate closest to `name` (case-insensitive), if it is close enough to
 * be a plausible typo: at most max(1, floor(length / 3)) edits, where length
 * is that of `name`. Ties go to the candidate listed first.
 */
export function suggest(name: string, candidates: readonly string[]): string | undefined {
  const wanted = name.toLowerCase();
  const length = Array.from(wanted).length;
  const limit = Math.max(1, Math.floor(length / 3));
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    // A cheap lower bound: lengths alone differ by more than the limit.
    if (Math.abs(Array.from(candidate).length - length) > limit) continue;
    const distance = editDistance(wanted, candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
      if (distance === 0) break;
    }
  }
  return bestDistance <= limit ? best : undefined;
}
