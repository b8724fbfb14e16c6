import type { Database, Statement } from 'better-sqlite3';
import { MAX_RECORD_LENGTH } from '../format/constants.js';

/**
 * The time map: for any (disk, point, byte range), the pieces of captured writes that
 * hold the bytes as they were — in a few index lookups however deep the history.
 *
 * Each piece of a write is valid over a seq interval [from, to). While valid now it sits in
 * `live` (non-overlapping, by position). When a newer write covers part of it, that part
 * moves to `hist`, filed under the node of a binary tree over seq numbers that is the
 * lowest common ancestor of from and to-1 (a centered interval tree on time). Every row
 * in one node was valid at that node's midpoint, so the rows of a node never overlap in
 * space; a read at point P visits one node per tree level on P's path and finds at most
 * a handful of rows in each. Pieces are never longer than MAX_RECORD_LENGTH, which bounds
 * the positional range scan. Cost: O(levels × pieces) per read, independent of how often a
 * block was overwritten.
 */
export interface Piece {
  start: number;
  end: number;
  /** Negative: a zero record in segment -segment (reads need no I/O). */
  segment: number;
  rec_offset: number;
  data_off: number;
}

/** A lookup row: start, end, segment, rec_offset, data_off. */
type PieceRow = [number, number, number, number, number];

const LEVEL_SCALE = 2 ** 47;
/** The start of the row lookupInGeneration's statement adds when the generation differs. */
const GENERATION_MARKER = -2;

/** The tree node of the seq interval [from, toInclusive]. */
export function nodeOf(from: number, toInclusive: number): number {
  let level = 0;
  let a = from;
  let b = toInclusive;
  while (a !== b) {
    a = Math.floor(a / 2);
    b = Math.floor(b / 2);
    level++;
  }
  return level * LEVEL_SCALE + a;
}

/** The nodes on point P's path, one per level, for levels 0..maxLevel. */
export function nodesOnPath(point: number, maxLevel: number): number[] {
  const nodes: number[] = [];
  let p = point;
  for (let level = 0; level <= maxLevel; level++) {
    nodes.push(level * LEVEL_SCALE + p);
    p = Math.floor(p / 2);
  }
  return nodes;
}

export function levelsFor(maxSeq: number): number {
  let l = 0;
  while (2 ** l <= maxSeq) l++;
  return l;
}

export class TimeMap {
  private selLive: Statement;
  private updLive: Statement;
  private setLive: Statement;
  private delLive: Statement;
  private insLive: Statement;
  private insHist: Statement;
  private qLookup = new Map<number, Statement>();
  /** The newest seq this connection has seen in meta (see lookup). */
  private knownMaxSeq = 0;
  private path = { point: -1, levels: -1, nodes: [] as number[] };

  constructor(private readonly db: Database) {
    // The live pieces [start, end) overlaps: those starting inside it, and the one piece
    // starting before it (live pieces never overlap, so no other can reach in). Asking
    // for every piece starting up to MAX_RECORD_LENGTH before it instead visited each of
    // a dense run of small pieces again for every write: quadratic in a batch of them.
    this.selLive = db.prepare(
      `SELECT id, start, end, from_seq, segment, rec_offset, data_off FROM live WHERE disk = @disk AND start >= @start AND start < @end
       UNION ALL
       SELECT * FROM (SELECT id, start, end, from_seq, segment, rec_offset, data_off FROM live WHERE disk = @disk AND start < @start ORDER BY start DESC LIMIT 1) WHERE end > @start`,
    );
    this.updLive = db.prepare('UPDATE live SET start = ?, end = ?, data_off = ? WHERE id = ?');
    this.setLive = db.prepare('UPDATE live SET start = ?, end = ?, from_seq = ?, segment = ?, rec_offset = ?, data_off = 0 WHERE id = ?');
    this.delLive = db.prepare('DELETE FROM live WHERE id = ?');
    this.insLive = db.prepare('INSERT INTO live(disk, start, end, from_seq, segment, rec_offset, data_off) VALUES (?, ?, ?, ?, ?, ?, ?)');
    this.insHist = db.prepare(
      'INSERT INTO hist(disk, node, start, end, from_seq, to_seq, segment, rec_offset, data_off) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
    );
  }

  /** Records that write `seq` put [start, end) of `disk` at (segment, rec_offset). Call in seq order. */
  apply(disk: number, seq: number, start: number, end: number, segment: number, recOffset: number): void {
    const rows = this.selLive.all({ disk, start, end }) as Array<Piece & { id: number; from_seq: number }>;
    /** A row the new piece covers whole, rewritten as the new piece (one statement, not a delete and an insert). */
    let reused = false;
    for (const r of rows) {
      const ovStart = Math.max(r.start, start);
      const ovEnd = Math.min(r.end, end);
      this.insHist.run(disk, nodeOf(r.from_seq, seq - 1), ovStart, ovEnd, r.from_seq, seq, r.segment, r.rec_offset, r.data_off + (ovStart - r.start));
      if (r.start < start && r.end > end) {
        this.updLive.run(r.start, start, r.data_off, r.id);
        this.insLive.run(disk, end, r.end, r.from_seq, r.segment, r.rec_offset, r.data_off + (end - r.start));
      } else if (r.start < start) {
        this.updLive.run(r.start, start, r.data_off, r.id);
      } else if (r.end > end) {
        this.updLive.run(end, r.end, r.data_off + (end - r.start), r.id);
      } else if (!reused) {
        this.setLive.run(start, end, seq, segment, recOffset, r.id);
        reused = true;
      } else {
        this.delLive.run(r.id);
      }
    }
    if (!reused) this.insLive.run(disk, start, end, seq, segment, recOffset, 0);
  }

  /**
   * The pieces that make up [start, end) of `disk` at `point`, unordered and non-overlapping.
   * One statement, so one snapshot: a writer moving a piece from live to hist between two
   * statements could make it vanish or appear twice. The hist rows of `point` sit in the
   * nodes of every level up to that of the newest seq; that seq is remembered, and the same
   * statement returns a marker row when meta's max_seq has grown past it (a writer went on):
   * the query is then asked again with more levels.
   */
  lookup(disk: number, point: number, start: number, end: number): Piece[] {
    return this.lookupChecked(disk, point, start, end, false, null)!;
  }

  /**
   * The same, in the snapshot where meta's `generation` (thinnings so far) is `generation`:
   * undefined when it is not (a thinning replaced the index), checked by the same statement.
   */
  lookupInGeneration(disk: number, point: number, start: number, end: number, generation: unknown): Piece[] | undefined {
    return this.lookupChecked(disk, point, start, end, true, generation ?? null);
  }

  private lookupChecked(disk: number, point: number, start: number, end: number, check: boolean, generation: unknown): Piece[] | undefined {
    const low = start - MAX_RECORD_LENGTH;
    for (;;) {
      const levels = levelsFor(Math.max(this.knownMaxSeq, point));
      const rows = this.lookupStatement(levels).all(
        disk, low, end, start, point,
        disk, ...this.pathOf(point, levels), low, end, start, point, point,
        this.knownMaxSeq,
        check ? 1 : 0, generation,
      ) as PieceRow[];
      const pieces: Piece[] = new Array(rows.length);
      let marker: number | undefined;
      for (let i = 0; i < rows.length; i++) {
        const r = rows[i]!;
        if (r[0] === GENERATION_MARKER) return undefined;
        if (r[0] < 0) marker = r[1];
        pieces[i] = { start: r[0], end: r[1], segment: r[2], rec_offset: r[3], data_off: r[4] };
      }
      if (marker === undefined) return pieces;
      this.knownMaxSeq = marker;
    }
  }

  /** nodesOnPath, remembered for the last point asked (a time image asks for one point). */
  private pathOf(point: number, levels: number): number[] {
    if (this.path.point !== point || this.path.levels !== levels) this.path = { point, levels, nodes: nodesOnPath(point, levels) };
    return this.path.nodes;
  }

  private lookupStatement(levels: number): Statement {
    let q = this.qLookup.get(levels);
    if (!q) {
      const cols = 'SELECT start, end, segment, rec_offset, data_off FROM';
      q = this.db.prepare(
        `${cols} live WHERE disk = ? AND start > ? AND start < ? AND end > ? AND from_seq <= ? UNION ALL ` +
          `${cols} hist WHERE disk = ? AND node IN (${Array(levels + 1).fill('?').join(',')}) ` +
          'AND start > ? AND start < ? AND end > ? AND from_seq <= ? AND to_seq > ? UNION ALL ' +
          "SELECT -1, CAST(value AS INTEGER) AS v, 0, 0, 0 FROM meta WHERE key = 'max_seq' AND v > ? UNION ALL " +
          `SELECT ${GENERATION_MARKER}, 0, 0, 0, 0 WHERE ? AND (SELECT value FROM meta WHERE key = 'generation') IS NOT ?`,
      );
      // Rows as arrays, made into pieces here: a quarter cheaper than better-sqlite3's objects.
      q.raw(true);
      this.qLookup.set(levels, q);
    }
    return q;
  }
}
