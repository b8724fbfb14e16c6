import { damaged } from '../errors.js';
import { joinPath, printable } from './tree-reader.js';
import type { DirEntry, FileSystemReader } from './types.js';

export interface WalkEntry {
  path: string;
  entry: DirEntry;
}

const MAX_DEPTH = 1024;

/**
 * Every entry under `root`, parents before children. A directory met a second time (a
 * loop or cross-link in a damaged filesystem; no filesystem read here hard-links
 * directories) ends the walk with a 'damaged' error instead of going round forever.
 */
export async function* walkTree(fs: FileSystemReader, root = '/'): AsyncGenerator<WalkEntry> {
  const top = await fs.stat(root);
  const seen = new Map<number, string>([[top.ino, root]]);
  const stack: { path: string; depth: number }[] = [{ path: root, depth: 0 }];
  while (stack.length > 0) {
    const { path, depth } = stack.pop()!;
    const entries = (await fs.list(path)).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const dirs: { path: string; depth: number }[] = [];
    for (const entry of entries) {
      const child = joinPath(path, entry.name);
      yield { path: child, entry };
      if (entry.type !== 'dir') continue;
      const before = seen.get(entry.ino);
      if (before !== undefined) throw damaged(printable(`directory loop: ${child} is the same directory as ${before} (id ${entry.ino})`));
      if (depth + 1 > MAX_DEPTH) throw damaged(printable(`${child}: directories nest more than ${MAX_DEPTH} deep`));
      seen.set(entry.ino, child);
      dirs.push({ path: child, depth: depth + 1 });
    }
    for (let i = dirs.length - 1; i >= 0; i--) stack.push(dirs[i]!);
  }
}
