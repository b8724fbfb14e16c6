/** Sizes and magic numbers of the appliance format (docs/FORMAT.md is the reference). */

export const FORMAT_VERSION = 1;

export const HEADER_FILE = 'chronodisk.json';
export const CATALOG_FILE = 'catalog';
export const SEGMENTS_DIR = 'segments';
export const INDEX_FILE = 'index.sqlite';
export const LOCK_FILE = 'writer.lock';
export const JOBS_DIR = 'jobs';

/** "CHRONOSG": the first 8 bytes of every segment file. */
export const SEGMENT_MAGIC = Buffer.from('CHRONOSG', 'latin1');
/** "CHRONOCT": the first 8 bytes of the catalog. */
export const CATALOG_MAGIC = Buffer.from('CHRONOCT', 'latin1');
export const FILE_HEADER_SIZE = 64;

/** "CDR1" little-endian: the first 4 bytes of every segment record. */
export const RECORD_MAGIC = 0x31524443;
export const RECORD_HEADER_SIZE = 64;
/** "CCR1" little-endian: the first 4 bytes of every catalog record. */
export const CATALOG_RECORD_MAGIC = 0x31524343;
export const CATALOG_RECORD_HEADER_SIZE = 32;
export const CATALOG_RECORD_TRAILER_SIZE = 8;

/** The largest logical payload of one write record; longer writes are split. */
export const MAX_RECORD_LENGTH = 64 * 1024;
/** A segment is sealed once it grows past this many bytes (at a record boundary). */
export const SEGMENT_TARGET_SIZE = 64 * 1024 * 1024;

/**
 * The seal size for an appliance on a filesystem of `fsBytes`: SEGMENT_TARGET_SIZE, or
 * 1/64 of the filesystem when smaller (never under 1 MiB). Thinning rewrites whole
 * segments before the old ones go, so on a small drive big segments would leave it no room.
 */
export function segmentTargetSizeFor(fsBytes: number): number {
  const MiB = 1024 * 1024;
  return Math.max(MiB, Math.min(SEGMENT_TARGET_SIZE, Math.floor(fsBytes / 64 / MiB) * MiB));
}
/** Catalog payloads larger than this are refused as damage when read. */
export const MAX_CATALOG_PAYLOAD = 1024 * 1024;

export enum RecordType {
  Write = 1,
  Commit = 2,
  Seal = 3,
}

export const RecordFlag = {
  Zstd: 1,
  Encrypted: 2,
  /** The logical bytes are all zero; nothing is stored. */
  Zero: 4,
} as const;

/** Flags of a commit record (the point it makes). */
export const CommitFlag = {
  CrashConsistent: 1,
  ScanPass: 2,
  Restore: 4,
  Final: 8,
  Thinned: 16,
} as const;

export const commitFlagNames: Array<[number, 'crash-consistent' | 'scan' | 'restore' | 'final' | 'thinned']> = [
  [CommitFlag.CrashConsistent, 'crash-consistent'],
  [CommitFlag.ScanPass, 'scan'],
  [CommitFlag.Restore, 'restore'],
  [CommitFlag.Final, 'final'],
  [CommitFlag.Thinned, 'thinned'],
];

export enum CatalogType {
  DiskAdd = 1,
  DiskUpdate = 2,
  DiskRemove = 3,
  BookmarkAdd = 4,
  BookmarkRemove = 5,
  Setting = 6,
  SegmentOpen = 7,
  SegmentSeal = 8,
  Manifest = 9,
}
