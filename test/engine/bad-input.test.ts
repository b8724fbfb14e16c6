import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { Appliance } from '../../electron/engine/appliance.js';
import { ChronodiskError } from '../../electron/engine/errors.js';
import { cliPath, repoRoot, runCli, type CliResult } from '../helpers/cli.js';
import { fillDrive, mountTmpfs, unmount } from '../devices/loop-device.js';

/**
 * Bad input through the real CLI: each mistake gives exactly one clear line on stderr and
 * exit 1 (2 for usage errors), and changes nothing — every file of the appliance (segments,
 * catalog, header) hashes the same before and after. The index and the lock files are
 * caches and locks, not data, so they may change; where there is no appliance, nothing at
 * all may appear.
 */

const root = mkdtempSync(join(tmpdir(), 'chronodisk-bad-input-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const plain = join(root, 'plain');
const encrypted = join(root, 'encrypted');
const fresh = join(root, 'fresh');
const passphrase = 'correct horse battery';
const disk = { source: '/dev/null', size: 1024 * 1024, mode: 'scan' as const, blockSize: 4096, identity: {} };
const cacheOrLock = /^(index\.sqlite.*|writer\.lock.*|writer\.json)$/;

/** sha256 of every file under `dir` (paths relative to it), caches and locks left out unless `all`. */
function snapshot(dir: string, all = false): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) {
        out[`${relative(dir, p)}/`] = 'dir';
        walk(p);
      } else if (all || !cacheOrLock.test(e.name)) {
        out[relative(dir, p)] = createHash('sha256').update(readFileSync(p)).digest('hex');
      }
    }
  };
  walk(dir);
  return out;
}

function expectOneLine(r: CliResult, status: number, message: RegExp): void {
  const what = `exit ${r.status}, stderr: ${JSON.stringify(r.stderr)}, stdout: ${JSON.stringify(r.stdout)}`;
  expect(r.status, what).toBe(status);
  expect(r.stdout, what).toBe('');
  expect(r.stderr.endsWith('\n'), what).toBe(true);
  const lines = r.stderr.slice(0, -1).split('\n');
  expect(lines, what).toHaveLength(1);
  expect(lines[0], what).toMatch(/^chronodisk: \S/);
  expect(lines[0], what).toMatch(message);
}

/** Runs the CLI and checks the one line, the exit status, and that `dir` did not change. */
function refused(args: string[], status: number, message: RegExp, options: { dir?: string; env?: NodeJS.ProcessEnv } = {}): void {
  const dir = options.dir ?? plain;
  const before = snapshot(dir);
  const r = runCli(args, { env: { CHRONODISK_PASSPHRASE: undefined, CHRONODISK_APPLIANCE: undefined, ...options.env } });
  expectOneLine(r, status, message);
  expect(snapshot(dir), `files of ${dir} after chronodisk ${args.join(' ')}`).toEqual(before);
}

beforeAll(async () => {
  for (const [dir, pass] of [
    [plain, undefined],
    [encrypted, passphrase],
  ] as const) {
    await Appliance.init(dir, { passphrase: pass });
    const app = await Appliance.open(dir, { writable: true, passphrase: pass });
    const d0 = app.addDisk({ name: 'disk0', ...disk });
    app.addDisk({ name: 'disk1', ...disk }); // registered, never captured
    for (let i = 0; i < 3; i++) {
      const b = app.beginBatch(d0);
      b.write(i * 4096, Buffer.alloc(4096, i + 1));
      const p = await b.commit();
      if (i === 1) app.addBookmark(d0, p, 'before upgrade');
    }
    app.close();
  }
  await Appliance.init(fresh);
});

describe('bad input gives one clear error and changes nothing', () => {
  it('a wrong passphrase', () => {
    const env = { CHRONODISK_PASSPHRASE: 'not the passphrase' };
    refused(['timeline', '-a', encrypted, 'disk0'], 1, /wrong passphrase/, { dir: encrypted, env });
    refused(['mark', '-a', encrypted, 'disk0', 'label'], 1, /wrong passphrase/, { dir: encrypted, env });
    refused(['check', '-a', encrypted, '--read-data'], 1, /wrong passphrase/, { dir: encrypted, env });
    const keyFile = join(root, 'wrong.key');
    writeFileSync(keyFile, 'also not it\n');
    refused(['image', '-a', encrypted, 'disk0', '--at', 'now', '--out', join(root, 'wrong-pass.img'), '--key-file', keyFile], 1, /wrong passphrase/, {
      dir: encrypted,
    });
    expect(existsSync(join(root, 'wrong-pass.img'))).toBe(false);
    // No passphrase at all (no terminal to ask on) is refused as clearly.
    refused(['timeline', '-a', encrypted, 'disk0'], 1, /encrypted; set CHRONODISK_PASSPHRASE/, { dir: encrypted });
  });

  it('a missing directory', () => {
    const missing = join(root, 'missing');
    for (const args of [
      ['timeline', '-a', missing, 'disk0'],
      ['mark', '-a', missing, 'disk0', 'label'],
      ['check', '-a', missing],
      ['rebuild-index', '-a', missing],
    ]) {
      expectOneLine(runCli(args), 1, /does not exist/);
      expect(existsSync(missing), `chronodisk ${args.join(' ')} created ${missing}`).toBe(false);
    }
  });

  it('a directory that is not an appliance, and a file instead of a directory', () => {
    const notApp = join(root, 'not-an-appliance');
    mkdirSync(notApp);
    writeFileSync(join(notApp, 'notes.txt'), 'my files\n');
    // A name with a space: the suggested command quotes it, so it can be pasted.
    const empty = join(root, 'empty drive');
    mkdirSync(empty);
    const file = join(root, 'a-file');
    writeFileSync(file, 'not a directory\n');
    for (const [dir, verbs] of [
      [notApp, ['timeline', 'mark', 'check', 'rebuild-index', 'passwd']],
      [empty, ['mark', 'check']],
    ] as const) {
      const argsOf: Record<string, string[]> = {
        timeline: ['timeline', '-a', dir, 'disk0'],
        mark: ['mark', '-a', dir, 'disk0', 'label'],
        check: ['check', '-a', dir, '--read-data'],
        'rebuild-index': ['rebuild-index', '-a', dir],
        passwd: ['passwd', '-a', dir],
      };
      for (const args of verbs.map((v) => argsOf[v]!)) {
        const before = snapshot(dir, true);
        const r = runCli(args);
        expectOneLine(r, 1, /is not a Chronodisk appliance/);
        expect(r.stderr).toContain(`create one with chronodisk init ${dir === empty ? `'${empty}'` : dir}`);
        expect(snapshot(dir, true), `chronodisk ${args.join(' ')} left files in ${dir}`).toEqual(before);
      }
    }
    const fileHash = createHash('sha256').update(readFileSync(file)).digest('hex');
    for (const args of [
      ['timeline', '-a', file, 'disk0'],
      ['mark', '-a', file, 'disk0', 'label'],
    ]) {
      expectOneLine(runCli(args), 1, /is not a directory/);
      expect(statSync(file).isFile()).toBe(true);
      expect(createHash('sha256').update(readFileSync(file)).digest('hex')).toBe(fileHash);
    }
    // init on the file, or below it; and on a directory that is not empty.
    for (const target of [file, join(file, 'appliance')]) {
      expectOneLine(runCli(['init', target]), 2, /is a file, or inside one; give an empty or new directory for the appliance/);
      expect(createHash('sha256').update(readFileSync(file)).digest('hex')).toBe(fileHash);
    }
    const before = snapshot(notApp, true);
    expectOneLine(runCli(['init', notApp]), 1, /is not empty; give an empty or new directory for the appliance/);
    expect(snapshot(notApp, true)).toEqual(before);
    expect(readdirSync(root).filter((n) => n.startsWith('a-file'))).toEqual(['a-file']);
  });

  it('a point before the first capture', () => {
    refused(['point', '-a', plain, 'disk0', '--at', '2000-01-01T00:00:00Z'], 1, /disk0 has no point at or before 2000-01-01.*its first point is \d+/);
    refused(['point', '-a', plain, 'disk0', '--at', '1'], 1, /disk0 has no point at or before 1; its first point is \d+/);
    refused(['point', '-a', plain, 'disk0', '--at', '999999999'], 1, /999999999 is not a point of disk0; the nearest point before it is \d+/);
    const out = join(root, 'before-first.img');
    refused(['image', '-a', plain, 'disk0', '--at', '2000-01-01T00:00:00Z', '--out', out], 1, /has no point at or before/);
    expect(existsSync(out), 'image created its --out file for a point that does not exist').toBe(false);
    refused(['mark', '-a', plain, 'disk1', 'label'], 1, /disk1 has no points yet/);
    refused(['diff', '-a', plain, 'disk0', '2000-01-01T00:00:00Z', 'now'], 1, /has no point at or before/);
  });

  it('an unknown disk', () => {
    refused(['timeline', '-a', plain, 'nosuch'], 1, /no disk named "nosuch" on this appliance \(it has: disk0, disk1\)/);
    refused(['image', '-a', plain, 'nosuch', '--at', 'now', '--out', join(root, 'nosuch.img')], 1, /no disk named "nosuch"/);
    refused(['mark', '-a', plain, 'nosuch', 'label'], 1, /no disk named "nosuch"/);
    // The writer's open of a new appliance must not leave anything behind either.
    refused(['mark', '-a', fresh, 'nosuch', 'label'], 1, /no disk named "nosuch" on this appliance; protect one first/, { dir: fresh });
    refused(['timeline', '-a', encrypted, 'nosuch'], 1, /no disk named "nosuch"/, { dir: encrypted, env: { CHRONODISK_PASSPHRASE: passphrase } });
  });

  it('an unknown bookmark', () => {
    refused(['point', '-a', plain, 'disk0', '--at', '@nosuch'], 1, /disk0 has no bookmark "nosuch"/);
    refused(['unmark', '-a', plain, 'disk0', 'nosuch'], 1, /disk0 has no bookmark "nosuch"/);
    refused(['mark', '-a', plain, 'disk0', 'again', '--at', '@nosuch'], 1, /disk0 has no bookmark "nosuch"/);
    // The bookmark that does exist still resolves (the test can tell the two apart).
    const r = runCli(['point', '-a', plain, 'disk0', '--at', '@before upgrade']);
    expect(r.status, r.stderr).toBe(0);
    // A label already taken is refused too.
    refused(['mark', '-a', plain, 'disk0', 'before upgrade'], 1, /already has a bookmark "before upgrade"/);
  });

  it('init on a drive with no room, and a passphrase too short: nothing is left behind', () => {
    const drive = join(root, 'full-drive');
    mountTmpfs(drive, '1m');
    try {
      const empty = join(drive, 'empty');
      mkdirSync(empty);
      fillDrive(drive);
      const before = snapshot(drive, true);
      for (const target of [join(drive, 'new'), join(drive, 'deeper', 'new'), empty]) {
        expectOneLine(runCli(['init', target]), 1, new RegExp(`the new appliance in ${target}: no space left on the device$`));
        expect(snapshot(drive, true), `files of ${drive} after chronodisk init ${target}`).toEqual(before);
      }
      rmSync(join(drive, 'filler'));
      const r = runCli(['init', '--encrypt', join(drive, 'short')], { env: { CHRONODISK_PASSPHRASE: 'short' } });
      expectOneLine(r, 2, /the passphrase is too short; use at least 8 characters/);
      expect(existsSync(join(drive, 'short'))).toBe(false);
    } finally {
      unmount(drive);
    }
  });

  it('labels that are not one line of 1 to 200 characters', async () => {
    refused(['mark', '-a', plain, 'disk0', 'two\nlines'], 2, /a bookmark label is one line of text: no newlines, tabs or other control characters/);
    refused(['mark', '-a', plain, 'disk0', 'x'.repeat(201)], 2, /a bookmark label needs 1 to 200 characters/);
    refused(['mark', '-a', plain, 'disk0', '   '], 2, /a bookmark label needs 1 to 200 characters/);
    // A point's label is checked before the capture reads a byte…
    refused(['capture', '-a', plain, 'disk0', '--label', 'a\tb'], 2, /a point label is one line of text/);
    // …and by the engine's commit, which then ends the batch: no point, nothing visible.
    const dir = join(root, 'labels');
    await Appliance.init(dir);
    const app = await Appliance.open(dir, { writable: true });
    try {
      const d = app.addDisk({ name: 'disk0', ...disk });
      const first = app.beginBatch(d);
      first.write(0, Buffer.alloc(4096, 6));
      const latest = (await first.commit()).seq;
      const b = app.beginBatch(d);
      b.write(0, Buffer.alloc(4096, 7));
      await expect(b.commit({ label: 'a\tb' })).rejects.toMatchObject({ code: 'usage', message: expect.stringMatching(/a point label is one line of text/) });
      expect(app.timeline.latest(d)!.seq).toBe(latest);
      // The disk takes a new batch at once; the refused batch's bytes are at no point.
      const again = app.beginBatch(d);
      again.write(4096, Buffer.alloc(4096, 8));
      const p = await again.commit({ label: 'one line' });
      expect(p.label).toBe('one line');
      const image = await app.image(d, p.seq).read(0, 8192);
      expect(image.equals(Buffer.concat([Buffer.alloc(4096, 6), Buffer.alloc(4096, 8)]))).toBe(true);
    } finally {
      app.close();
    }
  });

  it('usage errors exit 2', () => {
    refused(['point', '-a', plain, 'disk0', '--at', 'the day before yesterday'], 2, /./);
    refused(['timeline', 'disk0'], 2, /no appliance named; pass -a DIR or set CHRONODISK_APPLIANCE/);
    refused(['timeline', '-a', plain, 'disk0', '--no-such-option'], 2, /unknown option/);
    refused(['timeline', '-a', plain, 'disk0', '--from', 'yesterday'], 2, /--from "yesterday" is not an ISO-8601 time/);
    refused(['timeline', '-a', plain, 'disk0', '--from', '2026-02-01T00:00:00Z', '--to', '2026-01-01T00:00:00Z'], 2, /--from 2026-02-01T00:00:00Z is after --to 2026-01-01T00:00:00Z; give the earlier time first/);
    refused(['image', '-a', plain, 'disk0', '--at', 'now', '--out', '/dev/null', '--force'], 2, /\/dev\/null is not a regular file; name an image file to write \(to write a disk, use restore --to\)/);
  });

  it('an image file its filesystem cannot hold is named, and not left part-written', () => {
    // /proc/version is a "regular file" that takes no image; it is refused before any write.
    refused(['image', '-a', plain, 'disk0', '--at', 'now', '--out', '/proc/version', '--force'], 2, /\/proc\/version is a kernel file \(\/proc, \/sys\), not an image file; name a file on a disk/);
    // A file size limit gives the EFBIG that FAT's 4 GiB limit gives a larger disk.
    const out = join(root, 'too-large.img');
    const before = snapshot(plain);
    const r = spawnSync('prlimit', ['--fsize=65536', process.execPath, cliPath, 'image', '-a', plain, 'disk0', '--at', 'now', '--out', out], {
      encoding: 'utf8',
      env: { ...process.env, CHRONODISK_DEBUG: '' },
    });
    expectOneLine({ status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr }, 1, new RegExp(`${out}: too large for its filesystem \\(FAT holds at most 4 GiB per file\\); write it to ext4, exFAT or NTFS`));
    expect(existsSync(out), 'the part-written image was left behind').toBe(false);
    expect(snapshot(plain)).toEqual(before);
  });

  it('a second writer', async () => {
    // Another process holds the appliance as its writer.
    const holder: ChildProcess = spawn(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `import { Appliance } from ${JSON.stringify(join(repoRoot, 'dist/electron/engine/appliance.js'))};
         const app = await Appliance.open(process.argv[1], { writable: true, command: 'test holder' });
         process.stdout.write('ready\\n');
         process.stdin.resume();
         process.stdin.on('end', () => { app.close(); process.exit(0); });`,
        plain,
      ],
      { stdio: ['pipe', 'pipe', 'inherit'] },
    );
    try {
      await new Promise<void>((resolve, reject) => {
        holder.stdout!.on('data', (c: Buffer) => (c.toString().includes('ready') ? resolve() : undefined));
        holder.on('exit', (code) => reject(new Error(`the holder exited (${code}) before it was ready`)));
      });
      const inUse = new RegExp(`in use by pid ${holder.pid} on .*\\(test holder, since .*\\); stop that writer first`);
      refused(['mark', '-a', plain, 'disk0', 'second writer'], 1, inUse);
      refused(['unmark', '-a', plain, 'disk0', 'before upgrade'], 1, inUse);
      refused(['rebuild-index', '-a', plain], 1, inUse);
      refused(['prune', '-a', plain, '--yes'], 1, inUse);
      await expect(Appliance.open(plain, { writable: true })).rejects.toSatisfy((e: unknown) => e instanceof ChronodiskError && e.code === 'locked');
      // Readers are welcome beside the writer.
      const r = runCli(['timeline', '-a', plain, 'disk0', '--json']);
      expect(r.status, r.stderr).toBe(0);
      expect((JSON.parse(r.stdout) as { count: number }).count).toBe(3);
    } finally {
      holder.stdin!.end();
      await new Promise((resolve) => (holder.exitCode !== null ? resolve(undefined) : holder.on('exit', resolve)));
    }
    // With the writer gone, the same command works.
    const r = runCli(['mark', '-a', plain, 'disk0', 'second writer']);
    expect(r.status, r.stderr).toBe(0);
  });
});
