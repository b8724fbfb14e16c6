import { closeSync, fdatasync, fdatasyncSync, ftruncateSync, mkdirSync, openSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { FILE_HEADER_SIZE, FORMAT_VERSION, RecordType, SEGMENT_MAGIC, SEGMENT_TARGET_SIZE, SEGMENTS_DIR } from '../format/constants.js';
import { encodeFileHeader } from '../format/file-header.js';
import type { PayloadCodec } from '../format/payload-codec.js';
import { fsyncDir } from './durable-file.js';
import { fromFsError } from '../errors.js';
import { pwritevFully, pwritevFullySync } from '../positional-io.js';
import { segmentPath } from './segment-file.js';
import { encodeRecord, type EncodedRun, type RecordFields } from './record-encoder.js';
import { EarlyWriteback } from './early-writeback.js';
import { GroupCommit, type SyncRound } from './group-commit.js';

/** Undurable bytes of the open segment past which EarlyWriteback has the disk write them. */
const EARLY_WRITEBACK = 16 * 1024 * 1024;

/**
 * Pending bytes that start a write on the libuv pool (asyncFlush): small enough that a
 * group commit's fdatasync finds most of its records already in the page cache.
 */
const ASYNC_WRITE_BYTES = 1024 * 1024;

/** Where a record landed. */
export interface RecordLocation {
  segmentId: number;
  offset: number;
  /** The offset just past the record. */
  end: number;
  /** Record flags chosen by the codec (zero, zstd, encrypted). */
  flags: number;
}

export interface SegmentLifecycle {
  /** Called (synchronously) after a new segment file is durable, before any record goes in. */
  opened(id: number): void;
  /** Called after a segment's seal record is durable. */
  sealed(id: number, size: number, records: number): void;
}

/**
 * Appends records to the open segment. Records are buffered and written with one writev;
 * `sync()` is group commit: every caller waiting when an fdatasync starts shares it.
 * A segment past SEGMENT_TARGET_SIZE is sealed (seal record, fdatasync) and a new one
 * opened (file created and fsynced with its directory) before the next record.
 */
export class SegmentWriter {
  private fd = -1;
  private id = 0;
  /** The segment to create at the first append when none is open. */
  private nextId = 1;
  private end = 0;
  private records = 0;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** Bytes appended in this process, across segments: the group-commit clock. */
  private appended = 0;
  private group = new GroupCommit({
    appended: () => this.appended,
    gather: () => this.gather(),
    failed: (e) => this.syncFailed(e),
    synced: () => {
      for (const fd of this.fdsToClose.splice(0)) closeSync(fd);
    },
  });
  private fdsToClose: number[] = [];
  /** Where the open segment's durable records end (after its last fdatasync). */
  private durableEnd = 0;
  /**
   * Where the records a group commit's round has written end (its fdatasync done or still
   * running): a later write that fails cuts the segment back to here, never below — the
   * round acknowledges its waiters once its fdatasync is done.
   */
  private writtenEnd = 0;
  /**
   * Called (synchronously) when a failure cut records off the open segment: every batch
   * with a record past the cut lost it, and nothing may be placed for them any more.
   */
  onCut?: (e: unknown) => void;
  /** Cuts so far, and the last one's error: a round that saw one while it gathered is void. */
  private cuts = 0;
  private lastCut: unknown;
  /**
   * Large flushes run on the libuv pool instead of blocking the event loop (the capture
   * writer sets this: its loop feeds the encoder threads). sync() waits for them before
   * its fdatasync; a segment is sealed only when none is in flight.
   */
  asyncFlush = false;
  private inFlight: Array<Promise<void>> = [];
  private writeback = new EarlyWriteback(EARLY_WRITEBACK);
  private writeFailure: unknown;

  constructor(
    private readonly dir: string,
    private readonly applianceId: Buffer,
    private readonly codec: PayloadCodec,
    private readonly lifecycle: SegmentLifecycle,
    private readonly targetSize = SEGMENT_TARGET_SIZE,
  ) {}

  /**
   * Continues an open segment (after recovery cut it at `end`), or names the one to start
   * at the first append — lazily, so a writer that never writes leaves the appliance as it was.
   */
  resume(open: { id: number; end: number; records: number } | undefined, nextId: number): void {
    if (open) {
      this.fd = openSync(segmentPath(this.dir, open.id), 'r+');
      ftruncateSync(this.fd, open.end);
      fdatasyncSync(this.fd);
      this.id = open.id;
      this.end = open.end;
      this.durableEnd = open.end;
      this.writtenEnd = open.end;
      this.records = open.records;
    } else {
      this.nextId = nextId;
    }
  }

  get segmentId(): number {
    return this.id;
  }

  /**
   * Whether a record ending at `end` is still in the segments: in a sealed segment, or in
   * the open one short of its end. A cut keeps what a running round's fdatasync covers
   * (writtenEnd), so a record may survive a failure that came before it was durable.
   */
  holds(end: { segment: number; offset: number }): boolean {
    if (this.fd < 0) return end.segment < this.nextId;
    return end.segment < this.id || (end.segment === this.id && end.offset <= this.end);
  }

  get serial(): number {
    return this.appended;
  }

  /**
   * Encodes and appends one record; `data` is the logical payload (writes) or the plain
   * payload (commits). Returns where it went. May seal and rotate the segment first.
   */
  append(fields: RecordFields, data: Buffer, packData: boolean): RecordLocation {
    this.ensureRoom();
    return this.appendHere(fields, data, packData);
  }

  /**
   * Appends records a worker encoded (EncoderPool), in order and without copying them;
   * `payloadOf(i)` is record i's raw payload where the run left it outside its bytes.
   * The run's memory is written from as it is: keep it unchanged until written() resolves.
   */
  appendRun(run: EncodedRun, payloadOf: (i: number) => Buffer | Buffer[]): RecordLocation[] {
    const out: RecordLocation[] = [];
    let pos = 0;
    // A run never seals the segment (that would write and fdatasync on the event loop):
    // the segment grows past its target by at most one run, and the capture writer
    // seals it with rotateAsync() before its next placement.
    if (this.fd < 0) this.startSegment(this.nextId);
    for (let i = 0; i < run.sizes.length; i++) {
      const size = run.sizes[i]!;
      const header = run.bytes.subarray(pos, pos + size);
      out.push(this.place(run.external[i] ? [header, ...[payloadOf(i)].flat()] : header, run.flags[i]!));
      pos += size;
    }
    return out;
  }

  /**
   * Starts writing what is buffered and resolves (never rejects) once every record placed
   * so far is in the file, durable or not: their memory may be reused then. A failed
   * write is reported by the next settled() or sync(); a synchronous flush throws here.
   */
  written(): Promise<void> {
    if (this.pendingBytes > 0) {
      if (this.asyncFlush) this.startWrite();
      else this.flush();
    }
    return Promise.allSettled([...this.inFlight]).then(() => {});
  }

  /** Opens the next segment when none is open, or seals a full one and opens the next. */
  private ensureRoom(): void {
    if (this.fd < 0) this.startSegment(this.nextId);
    // With writes in flight the segment grows a little past its target: the capture
    // writer seals it with rotateAsync() before its next placement.
    else if (this.end >= this.targetSize && this.inFlight.length === 0) this.rotate();
  }

  get writesInFlight(): boolean {
    return this.inFlight.length > 0;
  }

  /** Resolves when every write in flight is done; throws (after cutting back) if one failed. */
  async settled(): Promise<void> {
    while (this.inFlight.length) await Promise.allSettled([...this.inFlight]);
    if (this.writeFailure === undefined) return;
    const e = this.writeFailure;
    this.writeFailure = undefined;
    if (this.fd >= 0) this.cutBack(e, this.writtenEnd);
    throw fromFsError(e, `segment ${this.id}`);
  }

  private appendHere(fields: RecordFields, data: Buffer, packData: boolean): RecordLocation {
    const r = encodeRecord(this.codec, fields, data, packData);
    return this.place(r.bytes, r.flags);
  }

  /** Queues encoded record bytes (one buffer, or the header and the payload's parts) at the segment's end. */
  private place(bytes: Buffer | Buffer[], flags: number): RecordLocation {
    const n = Array.isArray(bytes) ? bytes.reduce((sum, b) => sum + b.length, 0) : bytes.length;
    const at = { segmentId: this.id, offset: this.end, end: this.end + n, flags };
    if (Array.isArray(bytes)) this.pending.push(...bytes);
    else this.pending.push(bytes);
    this.pendingBytes += n;
    this.end += n;
    this.appended += n;
    this.records++;
    if (this.pendingBytes >= (this.asyncFlush ? ASYNC_WRITE_BYTES : 4 * 1024 * 1024)) {
      if (this.asyncFlush) this.startWrite();
      else this.flush();
    }
    return at;
  }

  /** Hands the pending records to the libuv pool (see asyncFlush). */
  private startWrite(): void {
    const bufs = this.pending;
    const position = this.end - this.pendingBytes;
    this.pending = [];
    this.pendingBytes = 0;
    // A write leaves inFlight when it lands, so every settled() caller waits for it (the
    // rotation and a group commit's fdatasync may both be waiting).
    const write: Promise<void> = pwritevFully(this.fd, bufs, position)
      .catch((e: unknown) => {
        this.writeFailure ??= e;
      })
      .finally(() => this.inFlight.splice(this.inFlight.indexOf(write) >>> 0, 1));
    this.inFlight.push(write);
    // Group commits that come often (split writes) keep little undurable: an extra
    // fdatasync would only hold a libuv thread and the disk (one ran every 16 MiB).
    if (this.end - this.durableEnd >= EARLY_WRITEBACK) this.writeback.written(this.id, segmentPath(this.dir, this.id), this.end, this.inFlight.slice());
  }

  /**
   * Resolves once everything appended before the call is on stable storage (group commit);
   * with `serial` (a past value of `serial`), once what was appended up to then is.
   */
  sync(serial?: number): Promise<void> {
    return this.group.sync(serial);
  }

  /**
   * Appends an already-encoded record as it is (thinning copies kept records verbatim:
   * their checksum and, when encrypted, their GCM tag still hold, since neither covers
   * the record's position).
   */
  appendRaw(header: Buffer, payload: Buffer): RecordLocation {
    this.ensureRoom();
    return this.place(payload.length ? [Buffer.from(header), Buffer.from(payload)] : Buffer.from(header), header.readUInt8(5));
  }

  /** Seals the open segment and opens no other: the writer is parked until restartAt(). */
  sealNow(): void {
    if (this.fd < 0) return;
    if (this.records > 0) this.rotate(false);
  }

  /** Leaves the current segment (sealed or not: thinning retired it) and starts segment `id`. */
  async restartAt(id: number): Promise<void> {
    await this.group.idle();
    await this.settled();
    if (this.fd >= 0) {
      this.flush();
      fdatasyncSync(this.fd);
      closeSync(this.fd);
      this.fd = -1;
    }
    this.startSegment(id);
  }

  close(): void {
    if (this.inFlight.length && this.fd >= 0) {
      // Only records no commit was acknowledged for are in flight or pending (an
      // acknowledgement settles every write before it): drop them, close once they land.
      const fd = this.fd;
      void Promise.allSettled(this.inFlight.splice(0)).then(() => closeSync(fd));
      this.fd = -1;
      this.pending = [];
      this.pendingBytes = 0;
    }
    this.flush();
    if (this.fd >= 0) {
      fdatasyncSync(this.fd);
      closeSync(this.fd);
      this.fd = -1;
    }
    for (const fd of this.fdsToClose.splice(0)) closeSync(fd);
  }

  /**
   * A group commit's round: everything appended so far is pending or in flight; write the
   * rest (on the libuv pool, so the event loop goes on) and wait for those writes. Writes
   * started later may land meanwhile; the round's fdatasync does not count them.
   */
  private async gather(): Promise<SyncRound> {
    const serial = this.appended;
    const segment = this.id;
    const end = this.end;
    const cuts = this.cuts;
    if (this.asyncFlush) {
      if (this.pendingBytes > 0) this.startWrite();
      await Promise.allSettled([...this.inFlight]);
    } else {
      // Writes in flight land first: the cut after a failure must not race one.
      while (this.inFlight.length) await Promise.allSettled([...this.inFlight]);
      if (this.writeFailure === undefined && this.pendingBytes > 0) {
        try {
          this.writePending();
        } catch (e) {
          this.writeFailure = e;
        }
      }
    }
    // A failed write is not cut back here: the group commit first lets the last round's
    // fdatasync finish, then cuts (failed()), and the cut rejects the waiters it leaves
    // without bytes — a rejection before the loop has ended would let a new waiter in
    // that the failure then took with it.
    if (this.writeFailure !== undefined) throw fromFsError(this.writeFailure, `segment ${this.id}`);
    // A cut meanwhile (another caller met a failed write) may have removed part of this
    // round, and records placed since reuse its serials: the round fails as a whole.
    if (this.cuts !== cuts) throw this.lastCut;
    // Everything up to `end` is in the file: no later failure may cut it off while this
    // round's fdatasync runs.
    if (this.id === segment) this.writtenEnd = Math.max(this.writtenEnd, end);
    return {
      serial,
      sync: async () => {
        // Else a rotation meanwhile sealed the segment: its fdatasync covered these records.
        if (this.id !== segment || this.fd < 0) return;
        const fd = this.fd;
        await new Promise<void>((res, rej) => fdatasync(fd, (err) => (err ? rej(err) : res())));
        if (this.id === segment) this.durableEnd = Math.max(this.durableEnd, end);
      },
    };
  }

  /**
   * A write or fdatasync failed and no round runs any more: drop everything after the
   * last durable record (a failed fdatasync leaves what it covered in doubt).
   */
  private async syncFailed(e: unknown): Promise<void> {
    // A write started during a failed fdatasync lands (or fails) before the cut.
    await this.settled().catch(() => undefined);
    if (this.fd >= 0) this.cutBack(e, this.durableEnd);
  }

  private flush(): void {
    if (this.pendingBytes === 0) return;
    try {
      this.writePending();
    } catch (e) {
      this.cutBack(e, this.writtenEnd);
      throw fromFsError(e, `segment ${this.id}`);
    }
  }

  /**
   * After a failed write (a full disk, an I/O error): drop every record after `to` — what
   * is durable, or what a running fdatasync covers. Only unacknowledged batches had
   * records past it: onCut ends them at once (before anything else is placed for them,
   * such as a commit record pointing at writes the cut removed), and the group commit
   * rejects every waiter for bytes past it, so the file, the index and the
   * acknowledgements stay in step.
   */
  private cutBack(failure: unknown, to: number): void {
    const e = fromFsError(failure, `segment ${this.id}`);
    const at = Math.max(to, this.durableEnd);
    const lost = this.end - at;
    this.pending = [];
    this.pendingBytes = 0;
    try {
      ftruncateSync(this.fd, at);
    } catch {
      // the next open cuts the torn tail instead
    }
    this.end = at;
    this.writtenEnd = at;
    this.appended -= lost;
    if (lost === 0) return;
    this.cuts++;
    this.lastCut = e;
    this.group.dropAbove(this.appended, e);
    this.onCut?.(e);
  }

  private writePending(): void {
    const bufs = this.pending;
    const position = this.end - this.pendingBytes;
    this.pending = [];
    this.pendingBytes = 0;
    const total = bufs.reduce((n, b) => n + b.length, 0);
    if (pwritevFullySync(this.fd, bufs, position) !== total) throw new Error(`short write to segment ${this.id}`);
  }

  /** The open segment has reached its target size: the next record seals it first. */
  get full(): boolean {
    return this.fd >= 0 && this.end >= this.targetSize;
  }

  /**
   * rotate() with its writes and its fdatasync on the libuv pool: the capture writer's
   * placement step awaits this, so the event loop keeps reading and feeding the encoder
   * threads while the full segment goes to the disk. The caller places nothing meanwhile.
   */
  async rotateAsync(): Promise<void> {
    await this.settled();
    if (!this.full) return;
    const sealAt = this.end;
    const records = this.appendSeal();
    const fd = this.fd;
    this.startWrite();
    // A failed write cuts the segment back (as far as a running round allows) and throws.
    await this.settled();
    try {
      await new Promise<void>((res, rej) => fdatasync(fd, (err) => (err ? rej(err) : res())));
    } catch (e) {
      // What is not yet known durable is in doubt, the seal included. A round whose
      // fdatasync runs beside this one finishes first: the cut must not go under it.
      await this.group.idle();
      if (this.fd === fd) {
        this.durableEnd = Math.min(this.durableEnd, sealAt);
        this.cutBack(e, this.durableEnd);
      }
      throw fromFsError(e, `segment ${this.id}`);
    }
    if (this.fd !== fd) return; // closed meanwhile
    this.sealed(records, true);
  }

  private rotate(startNext = true): void {
    if (this.inFlight.length) throw new Error(`segment ${this.id} cannot be sealed while writes to it are in flight`);
    const records = this.appendSeal();
    this.flush();
    fdatasyncSync(this.fd);
    this.sealed(records, startNext);
  }

  /** Appends the seal record; returns the records it closes. */
  private appendSeal(): number {
    const records = this.records;
    // The seal record's `a` is its own offset: the size of the records it closes.
    this.appendHere({ type: RecordType.Seal, diskId: 0, seq: 0, timeUs: Date.now() * 1000, a: this.end, b: 0, c: 0 }, Buffer.alloc(0), false);
    return records;
  }

  /** The seal record is durable (W3): closes the segment, records the seal, opens the next. */
  private sealed(records: number, startNext: boolean): void {
    this.group.durable = this.appended;
    const sealedId = this.id;
    const size = this.end;
    if (this.group.busy) this.fdsToClose.push(this.fd);
    else closeSync(this.fd);
    this.fd = -1;
    this.nextId = sealedId + 1;
    this.lifecycle.sealed(sealedId, size, records + 1);
    if (startNext) this.startSegment(sealedId + 1);
  }

  private startSegment(id: number): void {
    mkdirSync(join(this.dir, SEGMENTS_DIR), { recursive: true });
    const path = segmentPath(this.dir, id);
    let fd = -1;
    try {
      fd = openSync(path, 'w+', 0o600);
      writeSync(fd, encodeFileHeader({ magic: SEGMENT_MAGIC, version: FORMAT_VERSION, flags: this.codec.encrypted ? 1 : 0, id, applianceId: this.applianceId, createdUs: Date.now() * 1000 }));
      fdatasyncSync(fd);
      fsyncDir(join(this.dir, SEGMENTS_DIR));
      this.lifecycle.opened(id);
    } catch (e) {
      // A full drive: leave no file the catalog does not name (the next try starts over).
      if (fd >= 0) closeSync(fd);
      rmSync(path, { force: true });
      throw fromFsError(e, `segment ${id} (${path})`);
    }
    this.fd = fd;
    this.id = id;
    this.end = FILE_HEADER_SIZE;
    this.durableEnd = FILE_HEADER_SIZE;
    this.writtenEnd = FILE_HEADER_SIZE;
    this.records = 0;
  }
}
