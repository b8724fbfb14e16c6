import { mkdirSync, readdirSync, rmSync, statfsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { CatalogType, segmentTargetSizeFor } from './format/constants.js';
import { newHeader, noApplianceDir, notADirectory, readHeader, uuidBytes, writeHeader, type ApplianceHeader } from './format/appliance-header.js';
import { newDataKey, unwrapDataKey, wrapDataKey } from './format/keys.js';
import { PayloadCodec } from './format/payload-codec.js';
import { IndexDb } from './index/index-db.js';
import { catchUpForReader, catchUpForWriter, catchUpInOneTransaction, openWriterIndex, returnIndexToFile, type IndexSources } from './index/catch-up.js';
import { rebuildWriterIndex, type RebuildOutcome } from './index/index-rebuild.js';
import type { ReplayProblem, ReplayProgress } from './index/replay.js';
import { Catalog } from './store/catalog.js';
import type { BookmarkRecord, DiskRecord } from './store/catalog-state.js';
import { CommitPipeline } from './store/commit-pipeline.js';
import { EncoderPool } from './store/encoder-pool.js';
import { RecordReader } from './store/record-reader.js';
import { SegmentFiles } from './store/segment-file.js';
import type { SegmentWriter } from './store/segment-writer.js';
import { resumeSegmentWriter } from './store/writer-resume.js';
import { retireSegments, swapSegments, sweepStrays, type SwapContext } from './store/segment-swap.js';
import { WriterLock } from './store/writer-lock.js';
import { CaptureBatch } from './capture-batch.js';
import { checkLabel } from './labels.js';
import { ChronodiskError, fromFsError } from './errors.js';
import { TimeImage } from './time-image.js';
import { WriteHold } from './store/write-hold.js';
import { Timeline, type PointInfo } from './timeline.js';

export interface OpenOptions {
  /** Open as the appliance's one writer (takes the writer lock). */
  writable?: boolean;
  passphrase?: string;
  /** Names the writer in the lock, for "in use by" messages. */
  command?: string;
  /** Delete the index before opening (as the writer), so it is rebuilt from scratch. */
  rebuildIndex?: boolean;
  /** How far the writer's catch-up of the index is (long only when it rebuilds one). */
  onReplayProgress?: ReplayProgress;
  /** Tests use small segments to exercise rotation. */
  segmentTargetSize?: number;
  /**
   * Whether large reads may decode on a second thread (RecordReader): on by default where
   * there is more than one core. Processes that already read side by side, one per core
   * (serve's children), turn it off.
   */
  decodeThread?: boolean;
}

/** What a caller gives to register a disk; the appliance assigns id and time. */
export type NewDisk = Omit<DiskRecord, 'id' | 'createdUs'>;

const diskNamePattern = /^[^@:/\s][^@:/]*$/;

/**
 * An appliance: a directory of immutable segments, an append-only catalog and an SQLite
 * index (a rebuildable cache). One writer at a time; any number of readers beside it.
 */
export class Appliance {
  /** The Timeline over the index's current connection, made again when that changes (see timeline). */
  private timelineOn: { db: IndexDb['db']; timeline: Timeline } | undefined;
  readonly records: RecordReader;
  /** What opening found that needs attention (damaged segments…); `check` reports it. */
  readonly problems: ReplayProblem[] = [];
  private pipeline: CommitPipeline | undefined;
  private segmentTargetSize: number | undefined;
  private writer: SegmentWriter | undefined;
  private encoders: EncoderPool | undefined;
  private closed = false;

  private constructor(
    readonly dir: string,
    readonly header: ApplianceHeader,
    readonly codec: PayloadCodec,
    readonly catalog: Catalog,
    readonly files: SegmentFiles,
    public index: IndexDb,
    private readonly lock: WriterLock | undefined,
    decodeThread: boolean | undefined,
  ) {
    this.records = new RecordReader(files, codec, { decodeThread });
  }

  /**
   * Timeline queries over the index. Its connection changes when the writer moves the index
   * between memory and its file (a full drive) or starts a garbled file again.
   */
  get timeline(): Timeline {
    if (this.timelineOn?.db !== this.index.db) this.timelineOn = { db: this.index.db, timeline: new Timeline(this.index.db, () => this.catalog.state) };
    return this.timelineOn.timeline;
  }

  /**
   * Creates an appliance in `dir` (which must be missing or empty). A failure part way (a
   * full drive, say) takes back what it made: the directory if it made it, else its new entries.
   */
  static async init(dir: string, options: { passphrase?: string } = {}): Promise<ApplianceHeader> {
    if (options.passphrase !== undefined && options.passphrase.length < 8) {
      throw new ChronodiskError('usage', 'the passphrase is too short; use at least 8 characters');
    }
    let made: string | undefined;
    try {
      made = mkdirSync(dir, { recursive: true });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EEXIST' || code === 'ENOTDIR') {
        throw new ChronodiskError('usage', `${dir} is a file, or inside one; give an empty or new directory for the appliance`);
      }
      throw fromFsError(e, dir);
    }
    if (readdirSync(dir).length > 0) {
      throw new ChronodiskError('exists', `${dir} is not empty; give an empty or new directory for the appliance`);
    }
    try {
      let key: Buffer | undefined;
      let encryption: ApplianceHeader['encryption'] = null;
      if (options.passphrase !== undefined) {
        key = newDataKey();
        encryption = { cipher: 'aes-256-gcm', ...(await wrapDataKey(key, options.passphrase)) };
      }
      const header = newHeader(encryption);
      const codec = new PayloadCodec(key);
      Catalog.create(dir, uuidBytes(header.id), header.createdUs, codec);
      mkdirSync(join(dir, 'segments'), { recursive: true });
      writeHeader(dir, header, true); // last: a directory with a header is a whole appliance
      return header;
    } catch (e) {
      if (made) rmSync(made, { recursive: true, force: true });
      else for (const name of readdirSync(dir)) rmSync(join(dir, name), { recursive: true, force: true });
      throw fromFsError(e, `the new appliance in ${dir}`);
    }
  }

  static async open(dir: string, options: OpenOptions = {}): Promise<Appliance> {
    let st;
    try {
      st = statSync(dir);
    } catch {
      throw noApplianceDir(dir);
    }
    if (!st.isDirectory()) throw notADirectory(dir);
    const header = readHeader(dir);
    let key: Buffer | undefined;
    if (header.encryption) {
      if (options.passphrase === undefined) {
        throw new ChronodiskError('auth', `the appliance ${dir} is encrypted; set CHRONODISK_PASSPHRASE, pass --key-file, or run in a terminal to be asked`);
      }
      key = await unwrapDataKey(header.encryption, options.passphrase);
    }
    const codec = new PayloadCodec(key);
    const idBytes = uuidBytes(header.id);
    const lock = options.writable ? WriterLock.acquire(dir, options.command ?? 'chronodisk') : undefined;
    try {
      if (lock && options.rebuildIndex) IndexDb.remove(dir);
      const catalog = Catalog.open(dir, codec, Boolean(lock), idBytes);
      const files = new SegmentFiles(dir);
      const index = lock ? openWriterIndex(dir, header.id) : (catchUpForReader({ dir, applianceId: header.id, catalog, files, codec }) ?? IndexDb.open(dir, header.id, false));
      if (!index) throw new ChronodiskError('busy', `the appliance ${dir} is being opened by its writer; try again in a moment`);
      const app = new Appliance(dir, header, codec, catalog, files, index, lock, options.decodeThread);
      if (lock) app.startWriter(options.segmentTargetSize, options.onReplayProgress);
      return app;
    } catch (e) {
      lock?.release();
      throw e;
    }
  }

  /**
   * Deletes the index and builds it again from the segments and catalog alone. Takes the
   * writer lock: nothing else may write meanwhile.
   */
  static async rebuildIndex(dir: string, options: { passphrase?: string; onProgress?: ReplayProgress } = {}): Promise<RebuildOutcome> {
    const app = await Appliance.open(dir, {
      writable: true,
      passphrase: options.passphrase,
      command: 'chronodisk rebuild-index',
      rebuildIndex: true,
      onReplayProgress: options.onProgress,
    });
    try {
      return { ...app.index.counts(), problems: app.problems };
    } finally {
      app.close();
    }
  }

  /**
   * What rebuildIndex() does, inside the running writer: the index is emptied and replayed
   * from the segments and catalog in one transaction, so a reader sees the old index or the
   * new, never a half-built one. Split writes wait meanwhile; needs no capture batch open.
   */
  async rebuildIndexInPlace(onProgress?: ReplayProgress): Promise<RebuildOutcome> {
    return this.writeHold.betweenBatches(this.requireWriter(), 'the index is rebuilt between capture steps', () =>
      rebuildWriterIndex(this.index, this.indexSources(), onProgress),
    );
  }

  /**
   * A writer that opened on a full drive keeps its index in memory (catch-up.ts); once the
   * drive has room, this brings the file up to date and goes back to it, so readers beside
   * see the new points again and the copy stops growing. False when it stays in memory
   * (still no room for the file) or never was there. Needs no capture batch open.
   */
  async moveIndexToFile(): Promise<boolean> {
    if (!this.index.inMemory || !this.writer) return false;
    return this.writeHold.betweenBatches(this.requireWriter(), 'the index moves back to its file between capture steps', async () =>
      returnIndexToFile(this.index, this.indexSources()),
    );
  }

  /**
   * Replaces the live segments `choose` picks by what `build` writes (thinning; see swapSegments), then
   * rebuilds the index from the new ones. Needs the writer with no capture batch open.
   */
  async replaceSegments(
    choose: () => number[],
    build: (out: SegmentWriter, rewritten: Set<number>) => Promise<void>,
  ): Promise<{ added: number[]; retired: number[]; bytesWritten: number }> {
    return this.writeHold.betweenBatches(this.requireWriter(), 'thinning waits for capture to pause', async () => {
      const r = await swapSegments(this.swapContext(), choose, build);
      this.records.clear();
      catchUpInOneTransaction(this.index, this.indexSources()); // the retired files still exist for readers of the old index
      retireSegments({ dir: this.dir, catalog: this.catalog, files: this.files }, r.retired);
      return r;
    });
  }

  /** Held by segment swaps (thinning, reclaimUnreferenced) and index rebuilds; see WriteHold. */
  private readonly writeHold = new WriteHold();

  /**
   * Resolves once no segment swap or index rebuild runs; split capture awaits it before
   * each batch, so neither meets a batch it did not wait for. Undefined (nothing to await) mostly.
   */
  writesAllowed(): Promise<void> | undefined {
    return this.writeHold.writesAllowed();
  }

  /**
   * Retires the sealed segments that no committed record lives in: what a capture batch
   * that failed (the appliance filled up during a long scan pass) left behind. Such a
   * batch seals segment after segment before it fails, and nothing refers to them after
   * — not a point, so thinning never picks them. No index row names them either, so the
   * index stays as it is (only its generation follows the catalog's) and readers go on.
   * Skipped (0) while a capture batch is open: its records are not committed yet.
   */
  async reclaimUnreferenced(): Promise<{ segments: number; bytes: number }> {
    const pipeline = this.requireWriter();
    // Only a lost batch leaves such segments (a crash counts: -1 at open), and the look
    // reads every segment number in the index: not again until another batch is lost.
    if (pipeline.batchesLost === this.lostBatchesSeen) return { segments: 0, bytes: 0 };
    return this.writeHold.holding(pipeline, () => this.reclaimHeld(pipeline));
  }

  private async reclaimHeld(pipeline: CommitPipeline): Promise<{ segments: number; bytes: number }> {
    if (pipeline.busy) return { segments: 0, bytes: 0 };
    this.lostBatchesSeen = pipeline.batchesLost;
    // No batch is open, so the index changes no more until the swap: read it once.
    const used = new Set<number>();
    for (const r of this.index.db.prepare('SELECT DISTINCT segment FROM writes').iterate() as IterableIterator<{ segment: number }>) used.add(Math.abs(r.segment));
    for (const r of this.index.db.prepare('SELECT DISTINCT segment FROM commits').iterate() as IterableIterator<{ segment: number }>) used.add(r.segment);
    const unreferenced = () => this.catalog.state.liveSegments().filter((s) => s.state === 'sealed' && !used.has(s.id));
    if (unreferenced().length === 0) return { segments: 0, bytes: 0 };
    let bytes = 0;
    const r = await swapSegments(
      this.swapContext(),
      // Chosen once the writer has sealed its segment: a failed batch's last records are in it too.
      () => {
        const chosen = unreferenced();
        for (const s of chosen) bytes += s.size ?? 0;
        return chosen.map((s) => s.id);
      },
      async () => {},
    );
    this.index.db.transaction(() => {
      // Rows of the failed batches' writes, staged before they failed.
      this.index.forgetRetired(r.retired);
      this.index.setMeta('generation', this.catalog.state.generation);
    })();
    retireSegments({ dir: this.dir, catalog: this.catalog, files: this.files }, r.retired);
    return { segments: r.retired.length, bytes };
  }

  /** CommitPipeline.batchesLost when reclaimUnreferenced last looked. */
  private lostBatchesSeen = -1;

  private swapContext(): SwapContext {
    return { dir: this.dir, applianceId: uuidBytes(this.header.id), codec: this.codec, catalog: this.catalog, files: this.files, writer: this.writer!, segmentTargetSize: this.segmentTargetSize };
  }

  private startWriter(chosenSegmentSize?: number, onReplayProgress?: ReplayProgress): void {
    const fsBytes = () => {
      const fs = statfsSync(this.dir);
      return fs.blocks * fs.bsize;
    };
    const segmentTargetSize = chosenSegmentSize ?? segmentTargetSizeFor(fsBytes());
    this.segmentTargetSize = segmentTargetSize;
    // Strays: segments a thinning wrote but never made live, or retired ones not yet deleted.
    sweepStrays(this.dir, this.catalog);
    const caughtUp = catchUpForWriter(this.index, this.indexSources(), onReplayProgress);
    if (caughtUp.index !== this.index) {
      // The drive is full: the writer goes on with the index in memory (see catch-up.ts).
      this.index = caughtUp.index;
    }
    const r = caughtUp.replay;
    this.problems.push(...r.problems);
    const resumed = resumeSegmentWriter(
      { dir: this.dir, applianceId: uuidBytes(this.header.id), codec: this.codec, catalog: this.catalog, index: this.index },
      r.open,
      segmentTargetSize,
    );
    this.problems.push(...resumed.problems);
    this.writer = resumed.writer;
    this.encoders = new EncoderPool(this.codec.key);
    this.pipeline = new CommitPipeline(this.writer, this.index, this.encoders, Math.max(r.maxSeq, this.index.maxSeq), r.maxTimeUs);
  }

  private indexSources(): IndexSources {
    return { dir: this.dir, applianceId: this.header.id, catalog: this.catalog, files: this.files, codec: this.codec };
  }

  /** Bytes appended to segments by this writer since it opened (for "bytes stored" reports). */
  get bytesAppended(): number {
    return this.writer?.serial ?? 0;
  }

  get writable(): boolean {
    return this.lock !== undefined;
  }

  get encrypted(): boolean {
    return this.header.encryption !== null;
  }

  /** Picks up what a live writer added since (new disks, bookmarks, segments). */
  refresh(): void {
    this.catalog.refresh();
  }

  disks(): DiskRecord[] {
    return [...this.catalog.state.disks.values()].sort((a, b) => a.id - b.id);
  }

  disk(name: string): DiskRecord {
    let d = this.catalog.state.diskByName(name);
    if (!d && !this.writable) {
      this.refresh();
      d = this.catalog.state.diskByName(name);
    }
    if (!d) {
      const known = this.disks().map((x) => x.name);
      throw new ChronodiskError('not-found', `no disk named "${name}" on this appliance` + (known.length ? ` (it has: ${known.join(', ')})` : '; protect one first'));
    }
    return d;
  }

  addDisk(d: NewDisk): DiskRecord {
    this.requireWriter();
    if (!diskNamePattern.test(d.name) || d.name.length > 128) {
      throw new ChronodiskError('usage', `"${d.name}" cannot name a disk: use up to 128 characters without @, : or /`);
    }
    if (this.catalog.state.diskByName(d.name)) throw new ChronodiskError('exists', `a disk named "${d.name}" is already protected; pick another --name`);
    const rec: DiskRecord = { id: this.catalog.state.nextDiskId(), createdUs: Date.now() * 1000, ...d };
    this.catalog.append(CatalogType.DiskAdd, { ...rec }, rec.createdUs);
    return rec;
  }

  updateDisk(name: string, patch: Partial<Omit<DiskRecord, 'id' | 'createdUs'>>): DiskRecord {
    this.requireWriter();
    const d = this.disk(name);
    this.catalog.append(CatalogType.DiskUpdate, { id: d.id, ...patch }, Date.now() * 1000);
    return this.catalog.state.disks.get(d.id)!;
  }

  removeDisk(name: string, deleteHistory: boolean): void {
    this.requireWriter();
    const d = this.disk(name);
    this.catalog.append(CatalogType.DiskRemove, { id: d.id, deleteHistory }, Date.now() * 1000);
  }

  setting<T>(key: string): T | undefined {
    return this.catalog.state.settings.get(key) as T | undefined;
  }

  setSetting(key: string, value: unknown): void {
    this.requireWriter();
    this.catalog.append(CatalogType.Setting, { key, value }, Date.now() * 1000);
  }

  bookmarks(disk: DiskRecord): BookmarkRecord[] {
    return [...(this.catalog.state.bookmarks.get(disk.id)?.values() ?? [])].sort((a, b) => a.seq - b.seq);
  }

  addBookmark(disk: DiskRecord, point: PointInfo, label: string): BookmarkRecord {
    this.requireWriter();
    checkLabel(label, 'bookmark');
    if (this.catalog.state.bookmarks.get(disk.id)?.has(label)) {
      throw new ChronodiskError('exists', `${disk.name} already has a bookmark "${label}"; choose another label, or remove that bookmark first`);
    }
    const bm: BookmarkRecord = { diskId: disk.id, seq: point.seq, label, timeUs: point.timeUs };
    this.catalog.append(CatalogType.BookmarkAdd, { ...bm }, Date.now() * 1000);
    return bm;
  }

  removeBookmark(disk: DiskRecord, label: string): void {
    this.requireWriter();
    if (!this.catalog.state.bookmarks.get(disk.id)?.has(label)) {
      throw new ChronodiskError('not-found', `${disk.name} has no bookmark "${label}"`);
    }
    this.catalog.append(CatalogType.BookmarkRemove, { diskId: disk.id, label }, Date.now() * 1000);
  }

  /** Opens a capture batch for a disk: its writes become visible together at commit. */
  beginBatch(disk: DiskRecord): CaptureBatch {
    const p = this.requireWriter();
    p.begin(disk.id);
    return new CaptureBatch(disk, p);
  }

  /** The disk as it was at a committed point. */
  image(disk: DiskRecord, seq: number): TimeImage {
    return new TimeImage(disk, seq, this.index, this.records);
  }

  async changePassphrase(newPassphrase: string): Promise<void> {
    const key = this.codec.key;
    if (!this.header.encryption || !key) throw new ChronodiskError('usage', 'this appliance is not encrypted; there is no passphrase to change');
    if (newPassphrase.length < 8) throw new ChronodiskError('usage', 'the passphrase is too short; use at least 8 characters');
    const next: ApplianceHeader = { ...this.header, encryption: { cipher: 'aes-256-gcm', ...(await wrapDataKey(key, newPassphrase)) } };
    writeHeader(this.dir, next);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.pipeline?.close();
    this.encoders?.close();
    this.writer?.close();
    this.records.close();
    this.files.close();
    this.catalog.close();
    this.index.close();
    this.lock?.release();
  }

  private requireWriter(): CommitPipeline {
    if (!this.pipeline) throw new ChronodiskError('usage', 'the appliance was opened read-only; this needs the writer');
    return this.pipeline;
  }
}
