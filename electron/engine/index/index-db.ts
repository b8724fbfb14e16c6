import Database from 'better-sqlite3';
import type { Database as Db, Statement } from 'better-sqlite3';
import { existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { INDEX_FILE } from '../format/constants.js';
import { freeBytes } from '../store/free-space.js';
import { ChronodiskError, indexDamaged, isIndexDamage } from '../errors.js';
import { INDEX_VERSION, schema } from './schema.js';
import { TimeMap, type Piece } from './time-map.js';

/** A write staged until its batch commits. */
export interface StagedWrite {
  seq: number;
  disk: number;
  start: number;
  end: number;
  /** Negative for a zero record (nothing stored): -id of its segment. */
  segment: number;
  recOffset: number;
}

export interface CommitRow {
  seq: number;
  disk: number;
  time_us: number;
  flags: number;
  label: string | null;
  batch_start: number;
  bytes: number;
  segment: number;
  rec_offset: number;
}

/** A position in the segment stream: everything before it is in the index (or staged). */
export interface Watermark {
  segment: number;
  offset: number;
}

/**
 * The SQLite index (WAL; a cache of the segments). One writer connection applies batches;
 * any number of read-only connections query beside it.
 */
export class IndexDb {
  private conn!: Db;
  private map!: TimeMap;
  private stmts: Record<string, Statement> = {};
  maxSeq = 0;
  /**
   * Whether the staging table may hold rows: only long batches stage, so a writer that has
   * never staged (split capture: many small commits) skips two statements per commit.
   */
  private stagedMayExist!: boolean;
  /** Pieces of [start, end) of a disk at a point, read in one snapshot (see TimeMap). */
  readonly lookup: (disk: number, point: number, start: number, end: number) => Piece[];

  private constructor(db: Db, readonly writable: boolean) {
    this.connect(db);
    this.lookup = (disk, point, start, end) => this.map.lookup(disk, point, start, end);
  }

  get db(): Db {
    return this.conn;
  }

  get timeMap(): TimeMap {
    return this.map;
  }

  private connect(db: Db): void {
    this.conn = db;
    this.map = new TimeMap(db);
    const prep = (name: string, sql: string) => (this.stmts[name] = db.prepare(sql));
    prep('insCommit', 'INSERT OR IGNORE INTO commits VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)');
    prep('hasCommit', 'SELECT 1 FROM commits WHERE seq = ?');
    prep('insWrite', 'INSERT OR REPLACE INTO writes VALUES (?, ?, ?, ?, ?, ?)');
    prep('stage', 'INSERT OR REPLACE INTO staged VALUES (?, ?, ?, ?, ?, ?)');
    prep('stagedOf', 'SELECT seq, disk, start, end, segment, rec_offset AS recOffset FROM staged WHERE disk = ? AND seq >= ? AND seq < ? ORDER BY seq');
    prep('unstage', 'DELETE FROM staged WHERE disk = ? AND seq < ?');
    prep('fileLost', 'INSERT OR IGNORE INTO lost SELECT DISTINCT abs(segment), disk FROM staged WHERE disk = ? AND seq < ?');
    prep('getMeta', 'SELECT value FROM meta WHERE key = ?');
    prep('setMeta', 'INSERT OR REPLACE INTO meta VALUES (?, ?)');
    this.maxSeq = Number(this.meta('max_seq') ?? 0);
    this.stagedMayExist = !this.writable || db.prepare('SELECT 1 FROM staged LIMIT 1').get() !== undefined;
  }

  /** Opens (creating when writable) the index; an index of another version or appliance is rebuilt. */
  static open(dir: string, applianceId: string, writable: boolean): IndexDb | undefined {
    const path = join(dir, INDEX_FILE);
    if (!writable && !existsSync(path)) return undefined;
    if (writable) return IndexDb.openWritable(dir, applianceId);
    const db = new Database(path, { readonly: true, fileMustExist: true });
    try {
      if (!IndexDb.compatible(db, applianceId)) {
        db.close();
        return undefined;
      }
      // Time-map lookups touch a few pages per tree level: keep them cached (SQLite's
      // default 2 MiB made every read fetch pages from the OS again).
      db.pragma('cache_size = -65536');
      return new IndexDb(db, false);
    } catch (e) {
      db.close();
      // A reader cannot rebuild it (that needs the writer's lock): say what will.
      if (isIndexDamage(e)) throw indexDamaged(e);
      // Beside a writer that keeps its index in memory (a full drive): the file is not
      // written meanwhile, so its bytes are a snapshot, as far as they go.
      const image = driveTooFull(e, dir) ? IndexDb.fileImage(dir, applianceId) : undefined;
      if (image) return new IndexDb(new Database(image), false);
      throw e;
    }
  }

  private static openWritable(dir: string, applianceId: string): IndexDb {
    const idx = new IndexDb(IndexDb.writableConnection(dir, applianceId), true);
    idx.stamp(applianceId);
    return idx;
  }

  /** The writer's connection to the index file, its schema in place. */
  private static writableConnection(dir: string, applianceId: string): Db {
    const path = join(dir, INDEX_FILE);
    let db = new Database(path);
    try {
      // An index of another version or appliance, or one that is not a database any more:
      // it is only a cache of the segments and catalog, so the writer builds it again.
      if (!IndexDb.compatibleOrDamaged(db, applianceId)) {
        db.close();
        IndexDb.remove(dir);
        db = new Database(path);
      }
      db.pragma('journal_mode = WAL');
      // NORMAL: a power loss may lose the last index transactions, never corrupt them;
      // the watermark rolls back with them and replay redoes the work.
      db.pragma('synchronous = NORMAL');
      db.pragma('cache_size = -65536');
      db.exec(schema);
      return db;
    } catch (e) {
      db.close();
      if (driveTooFull(e, dir)) {
        throw new ChronodiskError('no-space', `the appliance's drive has no room for its index (${(e as Error).message})`, { cause: e });
      }
      throw e;
    }
  }

  /**
   * The writer's index file deleted and started again, empty, under the same IndexDb (its
   * users keep it): for a file SQLite cannot read any more, which no transaction can repair.
   */
  startFileAfresh(dir: string, applianceId: string): void {
    this.conn.close();
    IndexDb.remove(dir);
    this.connect(IndexDb.writableConnection(dir, applianceId));
    this.stamp(applianceId);
  }

  /** Names the format version and the appliance this index belongs to (checked by compatible()). */
  private stamp(applianceId: string): void {
    this.setMeta('version', INDEX_VERSION);
    this.setMeta('appliance', applianceId);
  }

  /**
   * A second writable connection to the index file a writer holds open: the rebuild
   * worker's (index-rebuild.ts). The writer's own connection writes nothing meanwhile.
   */
  static openBeside(dir: string): IndexDb {
    const db = new Database(join(dir, INDEX_FILE), { fileMustExist: true, timeout: 5000 });
    db.pragma('synchronous = NORMAL'); // per connection: as the writer's (see openWritable)
    db.pragma('cache_size = -65536');
    return new IndexDb(db, true);
  }

  /** Whether this index is a copy in memory (the drive was full when it opened; see catch-up.ts). */
  get inMemory(): boolean {
    return this.conn.memory;
  }

  /**
   * Takes over `other`'s connection (a writable index file, caught up) in place of its own,
   * which it closes: the way back from a copy in memory once the drive has room. Users of
   * this IndexDb keep it; `other` is not to be used again.
   */
  takeConnectionOf(other: IndexDb): void {
    this.conn.close();
    this.connect(other.conn);
  }

  /** Forgets what this connection remembers of the index, after another connection rewrote it (openBeside). */
  reload(): void {
    this.maxSeq = Number(this.meta('max_seq') ?? 0);
    this.stagedMayExist = true;
  }

  /**
   * A private, writable copy in memory of an index (`image`, from imageOf or fileImage;
   * empty without one), for an opener that must bring the index up to date but cannot
   * write its file: the drive is full. What it adds is lost at close; the next opener
   * replays it again.
   */
  static inMemory(image: Buffer | undefined, applianceId: string): IndexDb {
    const db = image ? new Database(image) : new Database(':memory:');
    db.exec(schema);
    const idx = new IndexDb(db, true);
    idx.stamp(applianceId);
    return idx;
  }

  /** The index file's contents as one open connection sees them, ready for inMemory. */
  static imageOf(db: Db): Buffer {
    return withoutWal(db.serialize());
  }

  /**
   * The index file's bytes, for inMemory; undefined when there is none of this appliance,
   * or when its WAL holds frames. Read as bytes, not through SQLite: opening a WAL database
   * needs its shared-memory file, which a full drive cannot take. With frames in the WAL
   * the file alone may be half a checkpoint, so the opener replays from nothing instead.
   */
  static fileImage(dir: string, applianceId: string): Buffer | undefined {
    const path = join(dir, INDEX_FILE);
    if (!existsSync(path) || sizeOr0(`${path}-wal`) > 0) return undefined;
    const image = readFileSync(path);
    if (image.length < 100) return undefined; // not even a database header: nothing to keep
    try {
      const db = new Database(withoutWal(image));
      try {
        return IndexDb.compatibleOrDamaged(db, applianceId) ? image : undefined;
      } finally {
        db.close();
      }
    } catch (e) {
      if (isIndexDamage(e)) return undefined;
      throw e;
    }
  }

  static remove(dir: string): void {
    for (const suffix of ['', '-wal', '-shm']) rmSync(join(dir, INDEX_FILE + suffix), { force: true });
  }

  private static compatible(db: Db, applianceId: string): boolean {
    try {
      const row = (k: string) => (db.prepare('SELECT value FROM meta WHERE key = ?').get(k) as { value: unknown } | undefined)?.value;
      const v = row('version');
      if (v === undefined) return true; // empty, new
      return Number(v) === INDEX_VERSION && row('appliance') === applianceId;
    } catch (e) {
      if (isIndexDamage(e)) throw e;
      return true; // no meta table yet
    }
  }

  /** compatible(), with an index SQLite cannot read counted as incompatible (for the writer, who rebuilds it). */
  private static compatibleOrDamaged(db: Db, applianceId: string): boolean {
    try {
      return IndexDb.compatible(db, applianceId);
    } catch (e) {
      if (isIndexDamage(e)) return false;
      throw e;
    }
  }

  /** How many commits and writes the index holds (what rebuilding it reports). */
  counts(): { commits: number; writes: number } {
    const count = (sql: string) => (this.db.prepare(sql).get() as { n: number }).n;
    return { commits: count('SELECT count(*) AS n FROM commits'), writes: count('SELECT count(*) AS n FROM writes') };
  }

  meta(key: string): unknown {
    return (this.stmts.getMeta!.get(key) as { value: unknown } | undefined)?.value;
  }

  setMeta(key: string, value: unknown): void {
    this.stmts.setMeta!.run(key, value);
  }

  get watermark(): Watermark {
    return { segment: Number(this.meta('wm_segment') ?? 0), offset: Number(this.meta('wm_offset') ?? 0) };
  }

  setWatermark(w: Watermark): void {
    this.setMeta('wm_segment', w.segment);
    this.setMeta('wm_offset', w.offset);
  }

  noteSeq(seq: number): void {
    if (seq > this.maxSeq) {
      this.maxSeq = seq;
      this.setMeta('max_seq', seq);
    }
  }

  /** Re-reads max_seq (a reader following a live writer). */
  refreshMaxSeq(): void {
    this.maxSeq = Number(this.meta('max_seq') ?? 0);
  }

  stage(w: StagedWrite): void {
    this.stagedMayExist = true;
    this.stmts.stage!.run(w.seq, w.disk, w.start, w.end, w.segment, w.recOffset);
  }

  hasCommit(seq: number): boolean {
    return this.stmts.hasCommit!.get(seq) !== undefined;
  }

  /**
   * Makes a batch visible: its writes (staged ones plus `inMemory`, in seq order) go into
   * the time map, then the commit row. Idempotent for a commit already applied.
   */
  applyCommit(c: CommitRow, inMemory: StagedWrite[]): void {
    // Staged writes of the disk older than this batch belong to no batch that committed
    // (a crash, an aborted scan pass): their segments are filed as lost before the rows go.
    if (this.stagedMayExist) this.stmts.fileLost!.run(c.disk, c.batch_start);
    if (this.hasCommit(c.seq)) {
      if (this.stagedMayExist) this.stmts.unstage!.run(c.disk, c.seq);
      return;
    }
    const staged = this.stagedMayExist ? (this.stmts.stagedOf!.all(c.disk, c.batch_start, c.seq) as StagedWrite[]) : [];
    const all = staged.length ? [...staged, ...inMemory].sort((a, b) => a.seq - b.seq) : inMemory;
    for (const w of all) {
      this.timeMap.apply(w.disk, w.seq, w.start, w.end, w.segment, w.recOffset);
      this.stmts.insWrite!.run(w.disk, w.seq, w.start, w.end, w.segment, w.recOffset);
    }
    if (this.stagedMayExist) this.stmts.unstage!.run(c.disk, c.seq);
    this.stmts.insCommit!.run(c.seq, c.disk, c.time_us, c.flags, c.label, c.batch_start, c.bytes, c.segment, c.rec_offset);
    this.noteSeq(c.seq);
  }

  /** Empties every table (thinning replaced the segments: the index is rebuilt in place). */
  clear(): void {
    this.db.exec("DELETE FROM commits; DELETE FROM writes; DELETE FROM staged; DELETE FROM lost; DELETE FROM live; DELETE FROM hist; DELETE FROM meta WHERE key NOT IN ('version', 'appliance');");
    this.maxSeq = 0;
  }

  /**
   * Segments that hold records of a batch that never committed, for the disks given: a
   * thinning that merges points of such a disk rewrites them, leaving those records out.
   */
  lostSegments(disks: Iterable<number>): Set<number> {
    const q = this.db.prepare('SELECT segment FROM lost WHERE disk = ?').pluck();
    const out = new Set<number>();
    for (const d of disks) for (const s of q.all(d) as number[]) out.add(s);
    return out;
  }

  /** Forgets what the index says of retired segments' uncommitted records. */
  forgetRetired(segments: number[]): void {
    const staged = this.db.prepare('DELETE FROM staged WHERE abs(segment) = ?');
    const lost = this.db.prepare('DELETE FROM lost WHERE segment = ?');
    for (const id of segments) {
      staged.run(id);
      lost.run(id);
    }
  }

  /** Drops staged rows that point at or past a cut tail. */
  dropStagedFrom(segment: number, offset: number): void {
    this.db.prepare('DELETE FROM staged WHERE abs(segment) > ? OR (abs(segment) = ? AND rec_offset >= ?)').run(segment, segment, offset);
  }

  close(): void {
    this.db.close();
  }
}

/** `image` (a database file's bytes) marked for a database in memory: header bytes 18-19 say "WAL" (2); 1 = rollback journal. */
function withoutWal(image: Buffer): Buffer {
  image[18] = 1;
  image[19] = 1;
  return image;
}

/** Below this much free space an I/O error of the index is taken for a full drive. */
const MIN_ROOM = 1024 * 1024;

/** SQLite says only "disk I/O error" when it cannot size the WAL's shared memory: on a drive with no room, that is why. */
function driveTooFull(e: unknown, dir: string): boolean {
  return Boolean((e as { code?: string }).code?.startsWith('SQLITE_IOERR')) && freeBytes(dir) < MIN_ROOM;
}

function sizeOr0(path: string): number {
  return statSync(path, { throwIfNoEntry: false })?.size ?? 0;
}
