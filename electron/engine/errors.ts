import type { ErrorCode, Remedy } from '../../shared/errors.js';

/**
 * The one error type the engine throws on purpose. `message` is a single line naming what
 * was wrong and what to do; `code` is what callers branch on. Where the thing to do is a
 * verb of ours (verify, rebuild the index), it is `remedy` rather than words in the
 * message, so that the CLI can name its command and the window its button.
 */
export class ChronodiskError extends Error {
  readonly remedy?: Remedy;

  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown; remedy?: Remedy },
  ) {
    super(message, options);
    this.name = 'ChronodiskError';
    if (options?.remedy) this.remedy = options.remedy;
  }
}

export const usageError = (message: string) => new ChronodiskError('usage', message);
export const notFound = (message: string) => new ChronodiskError('not-found', message);
export const damaged = (message: string) => new ChronodiskError('damaged', message);
export const refused = (message: string) => new ChronodiskError('refused', message);

/**
 * Throws when long work was asked to stop (a cancelled job): the reason the signal was
 * aborted with, or a one-line 'refused'. Engine loops call it between chunks, where
 * stopping leaves what was written durable and the work finishable by running it again.
 */
export function throwIfCancelled(signal: AbortSignal | undefined): void {
  if (!signal?.aborted) return;
  throw signal.reason instanceof Error ? signal.reason : new ChronodiskError('refused', 'cancelled');
}

export function isChronodiskError(e: unknown, code?: ErrorCode): e is ChronodiskError {
  return e instanceof ChronodiskError && (code === undefined || e.code === code);
}

/** True for "no space left": from the file system, from SQLite, or already turned into ours. */
export function isDriveFull(e: unknown): boolean {
  const code = (e as { code?: unknown })?.code;
  return code === 'ENOSPC' || code === 'SQLITE_FULL' || code === 'no-space';
}

/** True for SQLite saying the index file is not a database, or that its pages are corrupt. */
export function isIndexDamage(e: unknown): boolean {
  const code = (e as { code?: unknown })?.code;
  return code === 'SQLITE_NOTADB' || (typeof code === 'string' && code.startsWith('SQLITE_CORRUPT'));
}

/** Index damage (isIndexDamage) as ours: the index is a cache, so the remedy is to build it again. */
export function indexDamaged(e: unknown): ChronodiskError {
  return new ChronodiskError('damaged', `the appliance's index is damaged (${(e as Error)?.message ?? String(e)})`, { cause: e, remedy: 'rebuild-index' });
}

/**
 * An errno error that reached the top of a verb or a request unmapped, as ours: about the
 * path it names, or `fallback` when it names none (a write on a descriptor). The system's
 * own words follow in brackets. Undefined when it is not an errno error fromFsError knows.
 */
export function fromStrayFsError(e: unknown, fallback: string): ChronodiskError | undefined {
  const err = e as NodeJS.ErrnoException;
  if (e instanceof ChronodiskError || typeof err?.code !== 'string') return undefined;
  const mapped = fromFsError(e, err.path ?? fallback);
  if (!(mapped instanceof ChronodiskError)) return undefined;
  return new ChronodiskError(mapped.code, `${mapped.message} (${err.message})`, { cause: e });
}

/**
 * EACCES/EPERM on `what` (`doing`: " reading it" and the like). Root refused is no matter
 * of running as root: a container's device rules or a security module stand in the way.
 */
export function permissionDenied(what: string, doing: string, cause: unknown): ChronodiskError {
  const asRoot = process.getuid?.() === 0;
  const advice = asRoot ? 'refused even to root: a container or a security module such as SELinux or AppArmor does not allow it' : 'run as root or fix its permissions';
  return new ChronodiskError('permission', `${what}: permission denied${doing} (${advice})`, { cause });
}

/** Turns an fs error into a one-line ChronodiskError about `what`. */
export function fromFsError(e: unknown, what: string): Error {
  const err = e as NodeJS.ErrnoException;
  switch (err?.code) {
    case 'ENOENT':
      return new ChronodiskError('not-found', `${what} does not exist`, { cause: e });
    case 'EACCES':
    case 'EPERM':
      return permissionDenied(what, '', e);
    case 'ENOSPC':
    case 'SQLITE_FULL':
      return new ChronodiskError('no-space', `${what}: no space left on the device`, { cause: e });
    case 'EIO':
      return new ChronodiskError('io', `${what}: I/O error from the device`, { cause: e });
    case 'EBUSY':
      return new ChronodiskError('busy', `${what} is busy (in use by another program)`, { cause: e });
    case 'EEXIST':
      return new ChronodiskError('exists', `${what} already exists`, { cause: e });
    case 'EISDIR':
      return new ChronodiskError('usage', `${what} is a directory; name a file`, { cause: e });
    case 'ENOTDIR':
      return new ChronodiskError('usage', `${what}: a part of its path is a file, not a directory`, { cause: e });
    case 'EROFS':
      return new ChronodiskError('permission', `${what} is on a read-only filesystem`, { cause: e });
    case 'EFBIG':
      // FAT's 4 GiB file limit, most often, or a file size limit (ulimit -f).
      return new ChronodiskError('no-space', `${what}: too large for its filesystem (FAT holds at most 4 GiB per file); write it to ext4, exFAT or NTFS`, { cause: e });
    default:
      return e instanceof Error ? e : new Error(String(e));
  }
}
