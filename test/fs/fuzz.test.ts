import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BlockSource } from '../../electron/engine/block-source.js';
import { ChronodiskError } from '../../electron/engine/errors.js';
import type { Ext4Reader } from '../../electron/engine/fs/ext4.js';
import { detectFileSystem } from '../../electron/engine/fs/filesystem.js';
import { openVolume, readPartitionTable } from '../../electron/engine/fs/partitions.js';
import { walkTree } from '../../electron/engine/fs/tree-walk.js';
import type { FileSystemReader } from '../../electron/engine/fs/types.js';
import { buildFuzzImages, PatchedSource, prng, type FuzzImage } from './fuzz-images.js';
import { planFor, type FuzzPlan, type Patch } from './fuzz-targets.js';
import { makeSourceTree } from './source-tree.js';

// FUZZ_SEED and FUZZ_CASES let a developer hunt further than CI does; failures name their case.
const CASES_PER_IMAGE = Number(process.env.FUZZ_CASES ?? 250);
const SEED = Number(process.env.FUZZ_SEED ?? 1000);
const CASE_BUDGET_MS = 10_000;
let work: string;
let images: { img: FuzzImage; plan: FuzzPlan }[];

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'chronodisk-fuzz-'));
  const tree = join(work, 'tree');
  const fatTree = join(work, 'fat-tree');
  makeSourceTree(tree, { unix: true, manyFiles: 40, largeBytes: 200 * 1024 });
  makeSourceTree(fatTree, { unix: false, astralNames: false, manyFiles: 40, largeBytes: 200 * 1024 });
  images = [];
  for (const img of buildFuzzImages(work, tree, fatTree)) images.push({ img, plan: await planFor(img) });
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

interface Failure {
  label: string;
  error: unknown;
}

/** Everything a user could ask of a volume: walk it, stat, read, map and follow every entry. */
async function exerciseFs(fs: FileSystemReader, fail: (e: unknown) => void): Promise<void> {
  let budget = 2000;
  try {
    for await (const { path, entry } of walkTree(fs)) {
      if (--budget < 0) break;
      try {
        await fs.stat(path);
        if (entry.type === 'file') {
          await fs.read(path, 0, 1024 * 1024);
          await fs.fileExtents(path);
          if (entry.size <= 8 * 1024 * 1024) await fs.readFile(path);
        } else if (entry.type === 'symlink') await fs.readlink(path);
      } catch (e) {
        fail(e);
      }
    }
  } catch (e) {
    fail(e);
  }
}

async function exercise(src: BlockSource, disk: boolean, fail: (e: unknown) => void): Promise<void> {
  try {
    if (!disk) return await exerciseFs(await detectFileSystem(src), fail);
    for (const v of await readPartitionTable(src)) {
      try {
        const vol = await openVolume(src, v.number);
        await vol.read(0, Math.min(vol.size, 4096));
        await exerciseFs(await detectFileSystem(vol), fail);
      } catch (e) {
        fail(e);
      }
    }
  } catch (e) {
    fail(e);
  }
}

function randomPatch(rand: () => number, plan: FuzzPlan, size: number): { patch: Patch; size: number; what: string } {
  const patch: Patch = new Map();
  const pick = (n: number) => Math.floor(rand() * n);
  const hot = () => {
    const [from, to] = plan.hot[pick(plan.hot.length)]!;
    return Math.min(size - 1, from + pick(Math.max(1, to - from)));
  };
  const r = rand();
  if (r < 0.6) {
    const n = 1 + pick(8);
    for (let i = 0; i < n; i++) patch.set(hot(), pick(256));
    return { patch, size, what: `${n} random bytes in metadata` };
  }
  if (r < 0.75) {
    const at = pick(size);
    return { patch: new Map([[at, 0]]), size, what: `zero byte at ${at}` };
  }
  if (r < 0.85) {
    const at = hot() & ~511;
    const len = 512 << pick(4);
    for (let i = at; i < Math.min(size, at + len); i++) patch.set(i, 0);
    return { patch, size, what: `${len} zero bytes at ${at}` };
  }
  const cut = pick(size);
  return { patch, size: cut, what: `truncated to ${cut} bytes` };
}

function withBudget<T>(p: Promise<T>, label: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${label}: still running after ${CASE_BUDGET_MS} ms (a hang?)`)), CASE_BUDGET_MS);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

describe('readers on damaged images', () => {
  it('give a one-line ChronodiskError or an answer, never another exception or a hang', async () => {
    const failures: Failure[] = [];
    const tally = new Map<string, number>();
    let cases = 0;
    let peakRss = 0;
    for (const [index, { img, plan }] of images.entries()) {
      const rand = prng(SEED + index);
      const disk = img.name === 'gpt' || img.name === 'mbr';
      const list = [...plan.targets.map((t) => ({ patch: t.patch, size: img.bytes.length, what: t.what }))];
      while (list.length < CASES_PER_IMAGE) list.push(randomPatch(rand, plan, img.bytes.length));
      for (const [n, c] of list.entries()) {
        const label = `${img.name} case ${n}: ${c.what}`;
        let outcome = 'ok';
        const fail = (e: unknown) => {
          if (e instanceof ChronodiskError && !e.message.includes('\n')) outcome = e.code;
          else failures.push({ label, error: e });
        };
        await withBudget(exercise(new PatchedSource(img.bytes, c.size, c.patch), disk, fail), label).catch((e) => failures.push({ label, error: e }));
        tally.set(`${img.name} ${outcome}`, (tally.get(`${img.name} ${outcome}`) ?? 0) + 1);
        cases++;
        peakRss = Math.max(peakRss, process.memoryUsage().rss);
      }
    }
    console.log(`fuzz: ${cases} cases, peak RSS ${Math.round(peakRss / 2 ** 20)} MiB`, Object.fromEntries(tally));
    expect(failures.map((f) => `${f.label}: ${f.error instanceof Error ? f.error.stack : String(f.error)}`).slice(0, 5)).toEqual([]);
    expect(cases).toBeGreaterThanOrEqual(1000);
    expect(peakRss).toBeLessThan(2 * 2 ** 30);
  });

  it('fuzzes the journal replay too: the crash image needs it', async () => {
    const { img } = images.find((i) => i.img.name === 'ext4-journal')!;
    const fs = await detectFileSystem(new PatchedSource(img.bytes, img.bytes.length, new Map()));
    expect((fs as Ext4Reader).journal).toBe('replayed');
    expect((await fs.list('/')).map((e) => e.name)).toContain('many');
  });

  it('reports a directory that contains itself as damaged, on every filesystem', async () => {
    const outcomes: string[] = [];
    for (const { img, plan } of images) {
      const loop = plan.targets.find((t) => t.what.includes('(a loop)') || t.what.includes('containing itself'));
      if (!loop) continue;
      const fs = await detectFileSystem(new PatchedSource(img.bytes, img.bytes.length, loop.patch));
      let outcome = 'walked to the end';
      try {
        for await (const _ of walkTree(fs)) void _;
      } catch (e) {
        outcome = e instanceof ChronodiskError ? e.code : String(e);
      }
      outcomes.push(`${img.name} (${loop.what}): ${outcome}`);
    }
    // Every filesystem built without a pending journal has its loop; each one is damaged.
    for (const name of ['ext4', 'ext2-1k', 'ext4-inline', 'fat12', 'fat16', 'fat32', 'exfat']) expect(outcomes.some((o) => o.startsWith(`${name} (`)), outcomes.join('\n')).toBe(true);
    expect(outcomes.filter((o) => !o.endsWith(': damaged')), outcomes.join('\n')).toEqual([]);
  });
});
