import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { randomBytes, createHash } from 'node:crypto';
import { join } from 'node:path';
import { JOBS_DIR } from '../format/constants.js';
import { fsyncDir } from '../store/durable-file.js';
import type { Extent } from '../timeline.js';

/**
 * The journal of a restore that has started writing to its target: jobs/<id>.json in the
 * appliance directory (plus jobs/<id>.extents for a rollback's extent list). Written before
 * the first byte reaches the target, rewritten as the durable watermark advances, removed
 * when the restore is verified and done. A journal left behind is an interrupted restore:
 * the next restore of the same target finishes it (writing the same bytes again is safe).
 */
export interface RestoreJob {
  version: 1;
  id: string;
  /** rollback: the protected disk back to a point; copy: the whole image onto another target. */
  kind: 'rollback' | 'copy';
  disk: string;
  diskId: number;
  /** The point being restored. */
  seq: number;
  /** The target's real path (a device node or an image file). */
  target: string;
  /** Rollback: the up-to-date point bookmarked before-restore-<seq>. */
  upToDateSeq?: number;
  /** Bytes the plan writes: the extents' total, or the image size. */
  total: number;
  /** Bytes of the plan (in plan order) known to be durably on the target. */
  watermark: number;
  /** Rollback: sha256 of the .extents file, so a damaged list is never trusted. */
  extentsSha256?: string;
  startedUs: number;
  updatedUs: number;
  pid: number;
}

export type NewJob = Omit<RestoreJob, 'version' | 'id' | 'watermark' | 'startedUs' | 'updatedUs' | 'pid' | 'extentsSha256'>;

const jobsDir = (appDir: string) => join(appDir, JOBS_DIR);

/**
 * Writes a file so that a crash leaves either the old content or the new: tmp, fsync,
 * rename, and (unless `dirSync` is false) fsync of the directory.
 */
function writeAtomic(path: string, data: Buffer | string, dirSync = true): void {
  const tmp = `${path}.tmp`;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  if (dirSync) fsyncDir(join(path, '..'));
}

function encodeExtents(extents: Extent[]): Buffer {
  const b = Buffer.alloc(extents.length * 16);
  extents.forEach((e, i) => {
    b.writeBigUInt64LE(BigInt(e.offset), i * 16);
    b.writeBigUInt64LE(BigInt(e.length), i * 16 + 8);
  });
  return b;
}

function decodeExtents(b: Buffer): Extent[] {
  const out: Extent[] = [];
  for (let at = 0; at + 16 <= b.length; at += 16) out.push({ offset: Number(b.readBigUInt64LE(at)), length: Number(b.readBigUInt64LE(at + 8)) });
  return out;
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** The jobs of one appliance directory. */
export class RestoreJournal {
  constructor(readonly appDir: string) {}

  /** Starts a job: the extent list first, then the journal naming it. */
  create(job: NewJob, extents?: Extent[]): RestoreJob {
    mkdirSync(jobsDir(this.appDir), { recursive: true });
    const now = Date.now() * 1000;
    const id = `${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
    const full: RestoreJob = { version: 1, id, ...job, watermark: 0, startedUs: now, updatedUs: now, pid: process.pid };
    if (extents) {
      const body = encodeExtents(extents);
      // The journal's own directory sync below makes both names durable.
      writeAtomic(join(jobsDir(this.appDir), `${id}.extents`), body, false);
      full.extentsSha256 = sha256(body);
    }
    writeAtomic(this.pathOf(id), `${JSON.stringify(full)}\n`);
    return full;
  }

  /** Records progress: everything before `watermark` (plan order) is durably on the target. */
  advance(job: RestoreJob, watermark: number): void {
    job.watermark = watermark;
    job.updatedUs = Date.now() * 1000;
    job.pid = process.pid;
    // No directory sync: losing this rename to a power cut only means an older watermark,
    // and rewriting from there is safe.
    writeAtomic(this.pathOf(job.id), `${JSON.stringify(job)}\n`, false);
  }

  /** Unfinished jobs, oldest first; unreadable journals are skipped (and listed by `damaged`). */
  list(): RestoreJob[] {
    return this.scan().jobs;
  }

  /** Journal files that could not be read (a partial write cannot happen; a hand edit can). */
  damaged(): string[] {
    return this.scan().damaged;
  }

  /** The unfinished job writing to `target` (a real path), if any. */
  forTarget(target: string): RestoreJob | undefined {
    return this.list().find((j) => j.target === target);
  }

  get(id: string): RestoreJob | undefined {
    return this.list().find((j) => j.id === id);
  }

  extentsOf(job: RestoreJob): Extent[] {
    const body = readFileSync(join(jobsDir(this.appDir), `${job.id}.extents`));
    if (sha256(body) !== job.extentsSha256) throw new Error(`the extent list of restore job ${job.id} is damaged`);
    return decodeExtents(body);
  }

  remove(job: RestoreJob): void {
    rmSync(this.pathOf(job.id), { force: true });
    rmSync(join(jobsDir(this.appDir), `${job.id}.extents`), { force: true });
    fsyncDir(jobsDir(this.appDir));
  }

  private pathOf(id: string): string {
    return join(jobsDir(this.appDir), `${id}.json`);
  }

  private scan(): { jobs: RestoreJob[]; damaged: string[] } {
    let names: string[];
    try {
      names = readdirSync(jobsDir(this.appDir)).filter((n) => n.endsWith('.json'));
    } catch {
      return { jobs: [], damaged: [] };
    }
    const jobs: RestoreJob[] = [];
    const damaged: string[] = [];
    for (const n of names) {
      try {
        const j = JSON.parse(readFileSync(join(jobsDir(this.appDir), n), 'utf8')) as RestoreJob;
        if (j.version !== 1 || typeof j.target !== 'string' || typeof j.watermark !== 'number') throw new Error('not a journal');
        jobs.push(j);
      } catch {
        damaged.push(join(jobsDir(this.appDir), n));
      }
    }
    return { jobs: jobs.sort((a, b) => a.startedUs - b.startedUs), damaged };
  }
}
