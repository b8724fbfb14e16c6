/**
 * The E2E fixture: an appliance protecting a real ext4 image with two points whose files
 * differ, captured with the CLI (`chronodisk init`, `protect`, `capture`) before the
 * service starts. Keeps what each point held (file sha256s and the whole image) so the
 * tests can compare restored bytes with what was written.
 */
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sh } from '../devices/loop-device.js';
import { runCli, runCliJson } from '../helpers/cli.js';
import { prng } from '../helpers/prng.js';

export const sha256 = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

export interface TwoPointDisk {
  app: string;
  image: string;
  disk: string;
  /** The image as it was at each point (a copy). */
  imageAt: { p1: string; p2: string };
  /** The file trees written for each point. */
  tree: { p1: string; p2: string };
  seq: { p1: number; p2: number };
  timeUs: { p1: number; p2: number };
}

function randomBytes(n: number, seed: number): Buffer {
  const r = prng(seed);
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = Math.floor(r() * 256);
  return b;
}

export function writeTree(dir: string, version: 1 | 2): void {
  mkdirSync(join(dir, 'docs', 'reports'), { recursive: true });
  mkdirSync(join(dir, 'photos'), { recursive: true });
  writeFileSync(join(dir, 'notes.txt'), version === 1 ? 'The first draft of the notes.\n'.repeat(40) : 'Rewritten entirely at the second point.\n'.repeat(300));
  writeFileSync(join(dir, 'docs', 'plan.md'), `# Plan\n\nversion ${version}\n`);
  writeFileSync(join(dir, 'docs', 'reports', 'q3.csv'), 'quarter,total\nq3,1234\n');
  writeFileSync(join(dir, 'photos', 'beach.raw'), randomBytes(300_000, version === 1 ? 11 : 12));
  if (version === 2) writeFileSync(join(dir, 'added-later.txt'), 'only at the second point\n');
}

const MiB = 1024 * 1024;

function makeExt4(image: string, label: string, tree: string): void {
  sh('mkfs.ext4', ['-q', '-F', '-L', label, '-d', tree, '-b', '4096', image, `${(48 * MiB) / 1024}K`]);
}

/** Writes a new filesystem holding `tree` over the disk's image (the next capture sees it). */
export function rebuildImage(d: TwoPointDisk, tree: string): void {
  makeExt4(d.image, d.disk, tree);
}

/** Builds the appliance under `root` (created), protecting `disk` with points p1 and p2. */
export function buildTwoPointDisk(root: string, disk = 'work'): TwoPointDisk {
  const app = join(root, 'appliance');
  const image = join(root, `${disk}.img`);
  const tree = { p1: join(root, 'tree-p1'), p2: join(root, 'tree-p2') };
  const imageAt = { p1: join(root, 'at-p1.img'), p2: join(root, 'at-p2.img') };
  writeTree(tree.p1, 1);
  writeTree(tree.p2, 2);
  const mkfs = (t: string) => makeExt4(image, disk, t);
  mkfs(tree.p1);
  expect0(runCli(['init', app]));
  expect0(runCli(['protect', image, '-a', app, '--name', disk]));
  const p1 = runCliJson<{ seq: number }>(['capture', '-a', app, disk]).seq;
  copyFileSync(image, imageAt.p1);
  mkfs(tree.p2);
  const p2 = runCliJson<{ seq: number }>(['capture', '-a', app, disk]).seq;
  copyFileSync(image, imageAt.p2);
  const tl = runCliJson<{ points: Array<{ seq: number; time: string }> }>(['timeline', '-a', app, disk]);
  const timeOf = (seq: number) => {
    const p = tl.points.find((x) => x.seq === seq);
    if (!p) throw new Error(`point ${seq} is not on the timeline of ${disk}`);
    return Date.parse(p.time) * 1000 + Number(/\.\d{3}(\d{3})Z$/.exec(p.time)?.[1] ?? 0);
  };
  return { app, image, disk, imageAt, tree, seq: { p1, p2 }, timeUs: { p1: timeOf(p1), p2: timeOf(p2) } };
}

function expect0(r: { status: number; stderr: string }): void {
  if (r.status !== 0) throw new Error(r.stderr);
}
