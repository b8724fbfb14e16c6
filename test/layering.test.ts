import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { repoRoot } from './helpers/cli.js';

const fixtures = join(repoRoot, 'test/fixtures/layering');

function lint(paths: string[]) {
  const r = spawnSync(join(repoRoot, 'node_modules/.bin/depcruise'), ['--config', '.dependency-cruiser.cjs', ...paths], {
    cwd: repoRoot,
    encoding: 'utf8',
  });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

describe('layering lint', () => {
  it('passes on the project as it is', () => {
    const r = lint(['electron', 'shared', 'renderer']);
    expect(r.out).toContain('no dependency violations');
    expect(r.status).toBe(0);
  });

  for (const name of readdirSync(fixtures).filter((f) => f.endsWith('.ts.txt'))) {
    const header = readFileSync(join(fixtures, name), 'utf8').split('\n')[0]!;
    const [, place, rule] = /place: (\S+) rule: (\S+)/.exec(header)!;
    it(`${rule === 'none' ? 'allows' : 'fires on'} ${name}`, () => {
      const target = join(repoRoot, place!);
      // The folder may not exist yet in a fresh clone (git keeps no empty folders).
      const madeDir = !existsSync(dirname(target));
      mkdirSync(dirname(target), { recursive: true });
      copyFileSync(join(fixtures, name), target);
      try {
        const r = lint([place!]);
        if (rule === 'none') {
          expect(r.status).toBe(0);
        } else {
          expect(r.out).toContain(`error ${rule}:`);
          expect(r.status).not.toBe(0);
        }
      } finally {
        rmSync(target, { force: true });
        if (madeDir) rmSync(dirname(target), { recursive: true, force: true });
      }
    });
  }
});
