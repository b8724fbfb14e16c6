/**
 * What the NBD server serves. An export is a disk-shaped thing opened per connection (so a
 * per-connection overlay can exist); a provider names the exports and opens them. The server
 * core knows nothing else about where bytes come from.
 */

/** A run of an export's contents: `data` when it holds bytes, absent when it reads as zeroes. */
export interface ReadExtent {
  offset: number;
  length: number;
  data?: Buffer;
}

/** A run of an export as far as allocation goes: `zero` when it is unallocated and reads as zeroes. */
export interface AllocationExtent {
  offset: number;
  length: number;
  zero: boolean;
}

export interface ZeroOptions {
  fua: boolean;
  /** The client forbids leaving a hole (NBD_CMD_FLAG_NO_HOLE): allocate real zeroes. */
  noHole: boolean;
  /** NBD_CMD_FLAG_FAST_ZERO: fail at once with ENOTSUP unless zeroing beats writing. */
  fast: boolean;
}

export interface BlockSizes {
  /** Smallest addressable unit; a power of two ≤ 64 KiB. */
  minimum: number;
  /** Size below which I/O gets inefficient; a power of two ≥ max(minimum, 512). */
  preferred: number;
}

export interface NbdExport {
  readonly size: number;
  readonly readOnly: boolean;
  readonly blockSizes?: BlockSizes;
  /** True when every connection sees the same data and a flush on one covers all. */
  readonly canMultiConn?: boolean;
  /** Reads exactly `length` bytes at `offset` (the server has range-checked them). */
  read(offset: number, length: number): Promise<Buffer>;
  /**
   * Optional: which runs from `offset` are unallocated zeroes (NBD base:allocation), so
   * clients can skip them without reading. May cover less than asked, never nothing.
   */
  extents?(offset: number, length: number): Promise<AllocationExtent[]>;
  /** Optional: reads into a buffer the server recycles (no allocation per request). */
  readInto?(offset: number, into: Buffer): Promise<void>;
  /**
   * Optional: the same, done before returning (an in-process time image). The server then
   * answers a READ in one step: read into the reply buffer after its header, send it.
   */
  readIntoSync?(offset: number, into: Buffer): void;
  /** Optional: the same bytes as extents, so zero runs can go out as holes. */
  readExtents?(offset: number, length: number): Promise<ReadExtent[]>;
  /** Writes `data` at `offset`; with `fua`, durably before resolving. `data` is recycled after. */
  write?(offset: number, data: Buffer, fua: boolean): Promise<void>;
  /** Optional: the same as write, with the data in pieces as they arrived (saves a copy). */
  writev?(offset: number, chunks: Buffer[], fua: boolean): Promise<void>;
  /** Makes every completed write durable. */
  flush?(): Promise<void>;
  /** A hint that [offset, offset+length) is no longer needed. */
  trim?(offset: number, length: number, fua: boolean): Promise<void>;
  /** Makes [offset, offset+length) read as zeroes. */
  zero?(offset: number, length: number, options: ZeroOptions): Promise<void>;
  /** Releases what open() took (file descriptors, overlay storage). */
  close?(): Promise<void>;
}

export interface ExportListing {
  name: string;
  description?: string;
}

/** Names exports for NBD_OPT_LIST and opens one per connection (undefined: no such export). */
export interface ExportProvider {
  list(): Promise<ExportListing[]>;
  open(name: string): Promise<{ export: NbdExport; name: string; description?: string } | undefined>;
}

/**
 * An error an export throws on purpose, carrying the errno the client should see; other
 * errors map through their Node `code` (see nbdErrno in requests.ts) or become EIO.
 */
export class ExportError extends Error {
  constructor(
    readonly code: 'EPERM' | 'EIO' | 'EINVAL' | 'ENOSPC' | 'ENOTSUP',
    message: string,
  ) {
    super(message);
    this.name = 'ExportError';
  }
}

export interface ExportEntry extends ExportListing {
  open(): Promise<NbdExport> | NbdExport;
}

/**
 * A fixed set of named exports. The default name "" answers with `defaultName` (or the
 * first entry), as the protocol reserves "" for "the export that makes sense".
 */
export class ExportTable implements ExportProvider {
  private readonly entries = new Map<string, ExportEntry>();
  constructor(
    entries: ExportEntry[],
    private readonly defaultName?: string,
  ) {
    for (const e of entries) this.entries.set(e.name, e);
  }

  async list(): Promise<ExportListing[]> {
    return [...this.entries.values()].map(({ name, description }) => ({ name, description }));
  }

  async open(name: string) {
    const entry = this.entries.get(name) ?? (name === '' ? this.defaultEntry() : undefined);
    if (!entry) return undefined;
    return { export: await entry.open(), name: entry.name, description: entry.description };
  }

  private defaultEntry(): ExportEntry | undefined {
    if (this.defaultName !== undefined) return this.entries.get(this.defaultName);
    return this.entries.values().next().value;
  }
}
