/** What every in-process filesystem reader answers; see filesystem.ts for detection. */

export type FileSystemKind = 'ext2' | 'ext3' | 'ext4' | 'fat12' | 'fat16' | 'fat32' | 'exfat';

export type FileType = 'file' | 'dir' | 'symlink' | 'other';

/** One file's metadata, as `ls -l` would show it. Times are µs since the Unix epoch, UTC. */
export interface FileStat {
  name: string;
  type: FileType;
  size: number;
  mtimeUs: number;
  atimeUs?: number;
  ctimeUs?: number;
  /** st_mode: file type bits and permission bits, as fs.Stats.mode has them. */
  mode: number;
  uid: number;
  gid: number;
  /** The link target, for symlinks. */
  target?: string;
  /** A stable id of the file on this volume: equal for hard links to the same file. */
  ino: number;
  nlink: number;
}

export type DirEntry = FileStat;

/** A byte range of a file that lives on the volume: [diskOffset, diskOffset + length). */
export interface FileExtent {
  fileOffset: number;
  diskOffset: number;
  length: number;
}

export type ChunkSink = (chunk: Buffer, fileOffset: number) => void | Promise<void>;

export interface FileSystemReader {
  readonly kind: FileSystemKind;
  readonly label?: string;
  /** Allocation unit (block or cluster) in bytes. */
  readonly blockSize: number;
  /** Metadata of PATH ('/'-separated, from the volume root); symlinks are not followed. */
  stat(path: string): Promise<FileStat>;
  /** The entries of directory PATH, without '.' and '..'. */
  list(path: string): Promise<DirEntry[]>;
  /** Up to `length` bytes of file PATH from `offset` (shorter at the end of the file). */
  read(path: string, offset: number, length: number): Promise<Buffer>;
  /**
   * The whole file: streamed to `onChunk` in large pieces (returns an empty buffer), or,
   * without `onChunk`, returned as one buffer (refused for files over 1 GiB).
   */
  readFile(path: string, onChunk?: ChunkSink): Promise<Buffer>;
  readlink(path: string): Promise<string>;
  /** The byte ranges on the volume holding the file's data; holes and unwritten extents are left out. */
  fileExtents(path: string): Promise<FileExtent[]>;
}
