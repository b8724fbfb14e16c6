import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { cliPath } from './helpers/cli.js';

describe('the chronodisk command and a reader that goes away', () => {
  it('exits 0 without a stack trace when its output is cut short (| head)', () => {
    for (const args of [['--help'], ['service', '--help'], ['ui', '--help'], ['restore', '--help']]) {
      const r = spawnSync('bash', ['-c', `"$0" "$1" ${args.map((a) => `'${a}'`).join(' ')} | head -c 10 >/dev/null; echo "status=\${PIPESTATUS[0]}"`, process.execPath, cliPath], { encoding: 'utf8' });
      expect(r.stdout.trim(), args.join(' ')).toBe('status=0');
      expect(r.stderr, args.join(' ')).toBe('');
    }
  });
});
