import { createHash, randomBytes } from 'node:crypto';
import { chownSync, linkSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, symlinkSync, truncateSync, utimesSync, writeFileSync, openSync, writeSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { walkTree } from '../../electron/engine/fs/tree-walk.js';
import type { FileSystemReader } from '../../electron/engine/fs/types.js';

export interface TreeOptions {
  /** Symlinks, hard links, owners, odd modes and holes: only where the filesystem keeps them. */
  unix: boolean;
  /** Files in the big directory. */
  manyFiles: number;
  largeBytes: number;
  /** Names outside the BMP (mtools writes them mangled). */
  astralNames?: boolean;
}

/** Builds a source tree with the shapes a filesystem reader must get right. */
export function makeSourceTree(root: string, opts: TreeOptions): void {
  const dirs = ['a', 'a/b', 'a/b/c', 'a/b/c/d', 'empty-dir', 'many', 'Unicode ünïcødé 日本語'];
  for (const d of dirs) mkdirSync(join(root, d), { recursive: true });
  const files: Record<string, Buffer> = {
    'hello.txt': Buffer.from('hello, world\n'),
    'empty': Buffer.alloc(0),
    'a/b/c/d/deep.bin': randomBytes(7000),
    ['x'.repeat(200) + '.long']: Buffer.from('a long name\n'),
    'Unicode ünïcødé 日本語/ファイル名.txt': Buffer.from('unicode\n'),
    [`Unicode ünïcødé 日本語/emoji ${opts.astralNames === false ? '★' : '😀'} file`]: randomBytes(100),
    'MixedCase.TXT': Buffer.from('mixed'),
    'lower.txt': Buffer.from('lower'),
    'large.bin': randomBytes(opts.largeBytes),
  };
  for (const n of [1, 59, 60, 61, 511, 512, 4095, 4096, 4097, 65537]) files[`sizes/s${n}`] = randomBytes(n);
  mkdirSync(join(root, 'sizes'));
  for (const [name, data] of Object.entries(files)) writeFileSync(join(root, name), data);
  for (let i = 0; i < opts.manyFiles; i++) writeFileSync(join(root, 'many', `${String(i).padStart(5, '0')}-entry-with-a-longer-name.txt`), `${i}\n`);
  if (opts.unix) {
    symlinkSync('hello.txt', join(root, 'short-link'));
    symlinkSync('a/b/c/d/' + 'y'.repeat(100) + '/dangling-target-that-is-long', join(root, 'long-link'));
    symlinkSync('../..', join(root, 'a/b/up-link'));
    linkSync(join(root, 'hello.txt'), join(root, 'a/hard-link-to-hello'));
    linkSync(join(root, 'hello.txt'), join(root, 'a/b/second-hard-link'));
    const fd = openSync(join(root, 'sparse.bin'), 'w');
    writeSync(fd, randomBytes(5000), 0, 5000, 0);
    writeSync(fd, randomBytes(3000), 0, 3000, 10 * 1024 * 1024);
    closeSync(fd);
    truncateSync(join(root, 'sparse.bin'), 20 * 1024 * 1024);
    // 600 separate pieces: an extent tree of depth 1 (depth 2 with 1 KiB blocks).
    const frag = openSync(join(root, 'fragmented.bin'), 'w');
    for (let i = 0; i < 600; i++) writeSync(frag, randomBytes(4096), 0, 4096, i * 16384);
    closeSync(frag);
    writeFileSync(join(root, 'all-hole.bin'), '');
    truncateSync(join(root, 'all-hole.bin'), 3 * 1024 * 1024);
    writeFileSync(join(root, 'setuid-exe'), '#!/bin/sh\n', { mode: 0o4755 });
    writeFileSync(join(root, 'private'), 'secret', { mode: 0o600 });
    chownSync(join(root, 'private'), 1234, 5678);
    mkdirSync(join(root, 'private-dir'), { mode: 0o700 });
  }
  // Times with sub-second parts, some before 1980 is left out: FAT cannot hold them.
  let t = 1_600_000_000.123456;
  for (const p of walkSource(root).reverse()) {
    if (!lstatSync(join(root, p)).isSymbolicLink()) utimesSync(join(root, p), t, t);
    t += 3.5;
  }
}

/** Every path under root, parents before children, '/'-relative without a leading slash. */
export function walkSource(root: string, rel = ''): string[] {
  const out: string[] = [];
  for (const name of readdirSync(join(root, rel)).sort()) {
    const p = rel ? `${rel}/${name}` : name;
    out.push(p);
    if (lstatSync(join(root, p)).isDirectory()) out.push(...walkSource(root, p));
  }
  return out;
}

export interface CompareOptions {
  /** The filesystem's (or its maker's) time resolution in µs: mtimes must agree after rounding down to it. */
  mtimeResolutionUs: number;
  /** Compare mode, owner and hard-link structure. */
  unix: boolean;
  /** Whether directories keep their mtimes (mcopy does not set them). */
  dirMtime?: boolean;
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** Asserts that the volume holds exactly the source tree: names, types, sizes, bytes, times, links. */
export async function expectSameTree(fs: FileSystemReader, root: string, opts: CompareOptions): Promise<void> {
  const inoGroups = new Map<bigint, number>();
  const usedInos = new Set<number>();
  const sourcePaths = walkSource(root).filter((p) => !p.startsWith('lost+found'));
  for (const p of sourcePaths) {
    const st = lstatSync(join(root, p), { bigint: true });
    const got = await fs.stat('/' + p);
    const want = st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : st.isFile() ? 'file' : 'other';
    expect(got.type, p).toBe(want);
    if (want === 'file' || want === 'symlink') expect(got.size, p).toBe(Number(st.size));
    if (want === 'file') {
      expect(sha(await fs.readFile('/' + p)), p).toBe(sha(readFileSync(join(root, p))));
      // Also through the streaming path.
      const parts: Buffer[] = [];
      await fs.readFile('/' + p, (chunk) => void parts.push(chunk));
      expect(sha(Buffer.concat(parts)), p).toBe(sha(readFileSync(join(root, p))));
    }
    if (want === 'symlink') {
      expect(got.target, p).toBe(readlinkSync(join(root, p)));
      expect(await fs.readlink('/' + p), p).toBe(readlinkSync(join(root, p)));
    }
    if (want === 'file' || (want === 'dir' && opts.dirMtime !== false)) {
      const res = opts.mtimeResolutionUs;
      const wantUs = Number(st.mtimeNs / 1000n);
      expect(Math.floor(got.mtimeUs / res) * res, `${p} mtime ${got.mtimeUs} vs ${wantUs}`).toBe(Math.floor(wantUs / res) * res);
    }
    if (want === 'dir') {
      const names = (await fs.list('/' + p)).map((e) => e.name).sort();
      expect(names, p).toEqual(readdirSync(join(root, p)).sort());
    }
    if (opts.unix) {
      expect(got.mode, p).toBe(Number(st.mode));
      expect([got.uid, got.gid], p).toEqual([Number(st.uid), Number(st.gid)]);
      if (want === 'file') {
        expect(got.nlink, p).toBe(Number(st.nlink));
        const seen = inoGroups.get(st.ino);
        if (seen === undefined) {
          expect(usedInos.has(got.ino), `${p} has an inode number of its own`).toBe(false);
          inoGroups.set(st.ino, got.ino);
          usedInos.add(got.ino);
        } else expect(got.ino, `${p} is a hard link`).toBe(seen);
      }
    }
  }
  const top = (await fs.list('/')).map((e) => e.name).filter((n) => n !== 'lost+found').sort();
  expect(top).toEqual(readdirSync(root).filter((n) => n !== 'lost+found').sort());
  // walkTree visits every path exactly once, parents first.
  const walked: string[] = [];
  for await (const { path } of walkTree(fs)) if (!path.startsWith('/lost+found')) walked.push(path.slice(1));
  expect(walked.slice().sort()).toEqual(sourcePaths.sort());
  const position = new Map(walked.map((p, i) => [p, i]));
  for (const p of walked) if (p.includes('/')) expect(position.get(p.slice(0, p.lastIndexOf('/')))!, p).toBeLessThan(position.get(p)!);
}
