import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MiB } from '../shared/units.js';
import { Appliance } from '../electron/engine/appliance.js';
import { tempDir } from './devices/loop-device.js';
import { cliPath, runCli, runCliJson } from './helpers/cli.js';

describe('the chronodisk command and a reader that goes away', () => {
  it('exits 0 without a stack trace when its output is cut short (| head)', () => {
    for (const args of [['--help'], ['service', '--help'], ['ui', '--help'], ['restore', '--help']]) {
      const r = spawnSync('bash', ['-c', `"$0" "$1" ${args.map((a) => `'${a}'`).join(' ')} | head -c 10 >/dev/null; echo "status=\${PIPESTATUS[0]}"`, process.execPath, cliPath], { encoding: 'utf8' });
      expect(r.stdout.trim(), args.join(' ')).toBe('status=0');
      expect(r.stderr, args.join(' ')).toBe('');
    }
  });
});

describe('the commands the CLI suggests', () => {
  it('run as printed, with -a for an appliance named by -a and a disk name quoted for the shell', () => {
    const tmp = tempDir('chronodisk-suggest-');
    try {
      const app = join(tmp.dir, "it's here");
      const image = join(tmp.dir, 'disk.img');
      writeFileSync(image, Buffer.alloc(4 * MiB, 7));
      // Runs the suggestion after "with " in `line` with bash, the appliance not in the environment.
      const suggested = (line: string, words: string) => {
        const m = new RegExp(`with chronodisk (${words}.*?)(?:, or |\\.$)`).exec(line.trim());
        expect(m, line).not.toBeNull();
        const r = spawnSync('bash', ['-c', `"$0" "$1" ${m![1]!}`, process.execPath, cliPath], { encoding: 'utf8', cwd: tmp.dir, env: { ...process.env, CHRONODISK_APPLIANCE: '' } });
        expect(r.stderr).toBe('');
        expect(r.status).toBe(0);
        return r.stdout;
      };
      const init = runCli(['init', app]);
      expect(init.status).toBe(0);
      expect(init.stdout).toContain("Protect a disk with chronodisk protect SOURCE -a '");
      expect(runCli(['disks', '-a', app]).stdout).toContain("No disks yet: protect one with chronodisk protect SOURCE -a '");
      const protect = runCli(['protect', image, '-a', app, '--name', 'my disk']);
      expect(protect.status).toBe(0);
      expect(suggested(protect.stdout, 'capture')).toMatch(/^my disk: point \d+ at /);
      expect(runCliJson<Array<{ name: string; points: number }>>(['disks', '-a', app])).toMatchObject([{ name: 'my disk', points: 1 }]);
      // Without -a (the appliance from the environment) the suggestion leaves it out too.
      const second = join(tmp.dir, 'second.img');
      writeFileSync(second, Buffer.alloc(4 * MiB));
      const fromEnv = runCli(['protect', second, '--name', 'again'], { env: { CHRONODISK_APPLIANCE: app } });
      expect(fromEnv.stderr).toBe('');
      expect(fromEnv.stdout).toContain('Capture it with chronodisk capture again, or keep it captured with chronodisk run.');
    } finally {
      tmp.remove();
    }
  });
});

describe('tables of any length', () => {
  it('diff prints 150,000 ranges as one aligned table (more rows than a call takes arguments)', async () => {
    const tmp = tempDir('chronodisk-long-table-');
    try {
      const dir = join(tmp.dir, 'app');
      await Appliance.init(dir, {});
      const app = await Appliance.open(dir, { writable: true });
      const n = 150_000;
      let first = 0;
      let second = 0;
      try {
        const disk = app.addDisk({ name: 'd', size: 4 * MiB, source: '/dev/null', mode: 'scan', blockSize: 65536, identity: {} });
        const a = app.beginBatch(disk);
        a.write(0, Buffer.from('a'));
        first = (await a.commit()).seq;
        // One byte in every other: as many separate ranges as writes.
        const b = app.beginBatch(disk);
        for (let i = 0; i < n; i++) b.write(2 * i + 2, Buffer.from([i & 0xff]));
        second = (await b.commit()).seq;
      } finally {
        app.close();
      }
      const r = spawnSync(process.execPath, [cliPath, 'diff', 'd', String(first), String(second), '-a', dir], { encoding: 'utf8', maxBuffer: 64 * MiB });
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      const lines = r.stdout.trimEnd().split('\n');
      const rows = lines.filter((l) => /^\d+\s+1$/.test(l));
      expect(rows).toHaveLength(n);
      // Aligned: every row's length column starts where the header's does.
      const column = lines.find((l) => l.startsWith('OFFSET'))!.indexOf('LENGTH');
      expect(rows.every((l) => l.lastIndexOf('1') === column)).toBe(true);
    } finally {
      tmp.remove();
    }
  }, 300_000);
});
