import { createHash } from 'node:crypto';
import { closeSync, linkSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, readlinkSync, symlinkSync, utimesSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { prng } from '../helpers/prng.js';

export interface TreeOptions {
  /** FAT and exFAT have no symlinks, hard links, holes or modes. */
  posix: boolean;
  files: number;
}

/** A tree of nested directories with long and unicode names, empty, large and (posix) sparse files, symlinks and hard links. */
export function buildTree(root: string, opts: TreeOptions, seed = 1): void {
  const rand = prng(seed);
  const noise = (n: number) => {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = Math.floor(rand() * 256);
    return b;
  };
  mkdirSync(root, { recursive: true });
  const dirs = [root];
  for (let d = 0; d < 40; d++) {
    const parent = dirs[Math.floor(rand() * dirs.length)]!;
    const name = d % 7 === 0 ? `dossier-été-${d}-ünïcödé-名前` : d % 5 === 0 ? `a-rather-long-directory-name-that-goes-on-for-a-while-${d}` : `dir${d}`;
    const dir = join(parent, name);
    mkdirSync(dir);
    dirs.push(dir);
  }
  for (let f = 0; f < opts.files; f++) {
    const dir = dirs[f % dirs.length]!;
    const name = f % 11 === 0 ? `fichier-${f}-çà-日本語-${'x'.repeat(f % 60)}.txt` : `file${f}.dat`;
    const size = f % 13 === 0 ? 0 : Math.floor(rand() * 6000);
    writeFileSync(join(dir, name), noise(size));
  }
  writeFileSync(join(root, 'large.bin'), Buffer.concat([noise(1 << 20), Buffer.alloc(4 << 20, 'large '), noise(1 << 20)]));
  if (opts.posix) {
    const fd = openSync(join(root, 'sparse.img'), 'w');
    writeSync(fd, Buffer.from('head'), 0, 4, 0);
    writeSync(fd, Buffer.from('middle'), 0, 6, 20 * 1024 * 1024);
    writeSync(fd, Buffer.from('tail'), 0, 4, 40 * 1024 * 1024 - 4);
    closeSync(fd);
    symlinkSync('large.bin', join(root, 'link-to-large'));
    symlinkSync('/nowhere/dangling', join(root, dirs[3]!.slice(root.length + 1), 'dangling'));
    symlinkSync('../'.repeat(2) + 'x'.repeat(100), join(root, 'long-target-link'));
    linkSync(join(root, 'large.bin'), join(dirs[5]!, 'hard-large'));
    writeFileSync(join(root, 'shared'), 'shared by three names\n');
    linkSync(join(root, 'shared'), join(dirs[1]!, 'shared-2'));
    linkSync(join(root, 'shared'), join(dirs[2]!, 'shared-3'));
  }
  // A fixed, distinct mtime per file, so a restore that forgets mtimes is caught.
  let t = 1_600_000_000;
  for (const p of listTree(root).reverse()) {
    const s = lstatSync(join(root, p));
    if (!s.isSymbolicLink()) utimesSync(join(root, p), t, t);
    t -= 3;
  }
}

/** Relative paths of every entry under root, sorted. */
export function listTree(root: string, rel = ''): string[] {
  const out: string[] = [];
  for (const name of readdirSync(join(root, rel)).sort()) {
    const p = rel ? `${rel}/${name}` : name;
    out.push(p);
    if (lstatSync(join(root, p)).isDirectory() && !lstatSync(join(root, p)).isSymbolicLink()) out.push(...listTree(root, p));
  }
  return out;
}

/** What a restore must keep of each entry: type, content hash, link target, and (posix) mode, mtime and hard-link group. */
export function describeTree(root: string, opts: { posix: boolean; skip?: (p: string) => boolean }): Record<string, string> {
  const out: Record<string, string> = {};
  const groups = new Map<number, string>();
  for (const p of listTree(root)) {
    if (opts.skip?.(p)) continue;
    const s = lstatSync(join(root, p));
    let what: string;
    if (s.isSymbolicLink()) what = `link ${readlinkSync(join(root, p))}`;
    else if (s.isDirectory()) what = 'dir';
    else what = `file ${s.size} ${createHash('sha256').update(readFileSync(join(root, p))).digest('hex')}`;
    if (opts.posix) {
      if (!s.isSymbolicLink()) what += ` mode ${(s.mode & 0o7777).toString(8)} mtime ${Math.floor(s.mtimeMs / 1000)}`;
      if (s.isFile() && s.nlink > 1) {
        if (!groups.has(s.ino)) groups.set(s.ino, p);
        what += ` group ${groups.get(s.ino)} nlink ${s.nlink}`;
      }
    }
    out[p] = what;
  }
  return out;
}
