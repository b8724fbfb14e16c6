import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { BlockSource } from '../block-source.js';
import { ChronodiskError, refused } from '../errors.js';
import { serveImages } from '../nbd/serve-images.js';

const run = promisify(execFile);

export interface KernelMount {
  /** The read-only mount point of the volume's filesystem. */
  root: string;
  /** The filesystem type the kernel mounted (blkid's name). */
  type: string;
  close(): Promise<void>;
}

/** Options that mount read-only without replaying a journal (which would write). */
const NO_REPLAY: Record<string, string> = { xfs: 'ro,norecovery', ext4: 'ro,noload', ext3: 'ro,noload', btrfs: 'ro,rescue=nologreplay' };

/**
 * Lets the kernel read a volume no in-process reader knows: the volume is served
 * read-only by our NBD server, attached with nbdfuse, a read-only loop device over that
 * file, and mounted read-only without journal replay. Every step is undone in close(),
 * and on failure. All waits are asynchronous: the NBD server answering the kernel runs
 * on this process's event loop, so nothing here may block it (callers too must read the
 * mount with fs.promises).
 */
export async function mountWithKernel(volume: BlockSource): Promise<KernelMount> {
  if (process.platform !== 'linux' || process.getuid?.() !== 0) {
    throw refused('no in-process reader knows this filesystem, and the kernel path needs Linux and root; run as root');
  }
  const dir = mkdtempSync(join(tmpdir(), 'chronodisk-kmount-'));
  const undo: Array<() => Promise<unknown> | unknown> = [() => rmSync(dir, { recursive: true, force: true })];
  const close = async () => {
    for (const step of undo.reverse()) await Promise.resolve(step()).catch(() => undefined);
    undo.length = 0;
  };
  try {
    const { server, listening } = await serveImages([{ name: 'volume', description: 'volume', source: volume }], { socket: join(dir, 'nbd.sock') });
    undo.push(() => server.close());
    const fuseDir = join(dir, 'fuse');
    mkdirSync(fuseDir);
    const pidFile = join(dir, 'nbdfuse.pid');
    const fuse: ChildProcess = spawn('nbdfuse', ['-r', '-P', pidFile, join(fuseDir, 'disk'), listening.uri('volume')], { stdio: 'ignore' });
    let fuseExited = false;
    fuse.on('exit', () => (fuseExited = true));
    fuse.on('error', () => (fuseExited = true));
    undo.push(async () => {
      await run('umount', [fuseDir]).catch(() => undefined);
      if (!fuseExited) fuse.kill();
    });
    for (let waited = 0; !existsSync(pidFile); waited += 50) {
      if (fuseExited || waited > 20_000) throw new ChronodiskError('io', 'nbdfuse did not attach the time image (is nbdfuse installed and /dev/fuse present?)');
      await new Promise((r) => setTimeout(r, 50));
    }
    const loop = (await run('losetup', ['-r', '-f', '--show', join(fuseDir, 'disk')])).stdout.trim();
    undo.push(() => run('losetup', ['-d', loop]));
    const type = (await run('blkid', ['-p', '-o', 'value', '-s', 'TYPE', loop]).catch(() => ({ stdout: '' }))).stdout.trim();
    if (!type) throw new ChronodiskError('not-found', 'no filesystem the kernel recognises on this volume');
    const root = join(dir, 'mnt');
    mkdirSync(root);
    const options = NO_REPLAY[type] ?? 'ro';
    try {
      await run('mount', ['-t', type, '-o', options, loop, root]);
    } catch (e) {
      throw new ChronodiskError('damaged', `the kernel could not mount the ${type} filesystem read-only: ${String((e as { stderr?: string }).stderr ?? e).trim().split('\n')[0]}`);
    }
    undo.push(() => run('umount', [root]));
    return { root, type, close };
  } catch (e) {
    await close();
    throw e;
  }
}
