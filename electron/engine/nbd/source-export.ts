/**
 * A read-only export over any BlockSource: a time image, a partition window, an image file.
 * The time-image export is exactly this once a TimeImage (a BlockSource) is handed in.
 */
import type { BlockSource } from '../block-source.js';
import type { AllocationExtent, BlockSizes, NbdExport, ReadExtent } from './export.js';

/** A BlockSource that can also fill a caller's buffer, or say which runs read as zeroes (e.g. never-written extents). */
export interface SparseBlockSource extends BlockSource {
  /** Fills `out` with the bytes at `offset` (a TimeImage does): the server reads into recycled buffers. */
  readInto?(out: Buffer, offset: number): void | Promise<void>;
  /** The same, finished when it returns (an in-process TimeImage): the server answers at once. */
  readIntoSync?(out: Buffer, offset: number): void;
  /** The bytes, with zero runs left out (sent as holes). */
  readExtents?(offset: number, length: number): Promise<ReadExtent[]>;
  /** Just the map: which runs are unallocated zeroes (base:allocation). */
  extents?(offset: number, length: number): Promise<AllocationExtent[]>;
}

export interface SourceExportOptions {
  blockSizes?: BlockSizes;
  /** Called when the connection ends: for a source opened per connection. Shared sources omit it. */
  close?: () => void | Promise<void>;
}

export class SourceExport implements NbdExport {
  readonly readOnly = true;
  readonly canMultiConn = true; // read-only: every connection sees the same bytes
  readonly size: number;
  readonly blockSizes?: BlockSizes;
  readonly readInto?: (offset: number, into: Buffer) => Promise<void>;
  readonly readIntoSync?: (offset: number, into: Buffer) => void;
  readonly readExtents?: (offset: number, length: number) => Promise<ReadExtent[]>;
  readonly extents?: (offset: number, length: number) => Promise<AllocationExtent[]>;

  constructor(
    private readonly source: BlockSource | SparseBlockSource,
    private readonly options: SourceExportOptions = {},
  ) {
    this.size = source.size;
    this.blockSizes = options.blockSizes;
    const sparse = source as SparseBlockSource;
    if (typeof sparse.readInto === 'function') this.readInto = async (offset, into) => sparse.readInto!(into, offset);
    if (typeof sparse.readIntoSync === 'function') this.readIntoSync = (offset, into) => sparse.readIntoSync!(into, offset);
    if (typeof sparse.readExtents === 'function') this.readExtents = (offset, length) => sparse.readExtents!(offset, length);
    if (typeof sparse.extents === 'function') this.extents = (offset, length) => sparse.extents!(offset, length);
  }

  read(offset: number, length: number): Promise<Buffer> {
    return this.source.read(offset, length);
  }

  async close(): Promise<void> {
    await this.options.close?.();
  }
}
