export interface ByteRange {
  offset: number;
  length: number;
}

/** Sorts ranges, widens them to whole blocks within [0, size) and merges overlaps. */
export function coalesce(ranges: ByteRange[], blockSize: number, size: number): ByteRange[] {
  const aligned = ranges
    .map((r) => {
      const start = Math.floor(r.offset / blockSize) * blockSize;
      const end = Math.min(size, Math.ceil((r.offset + r.length) / blockSize) * blockSize);
      return { start, end };
    })
    .filter((r) => r.end > r.start)
    .sort((a, b) => a.start - b.start);
  const out: ByteRange[] = [];
  let cur: { start: number; end: number } | undefined;
  for (const r of aligned) {
    if (cur && r.start <= cur.end) cur.end = Math.max(cur.end, r.end);
    else {
      if (cur) out.push({ offset: cur.start, length: cur.end - cur.start });
      cur = { ...r };
    }
  }
  if (cur) out.push({ offset: cur.start, length: cur.end - cur.start });
  return out;
}
