import { afterAll, describe, expect, it } from 'vitest';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Appliance } from '../../electron/engine/appliance.js';
import { checkAppliance } from '../../electron/engine/check.js';
import { SEGMENTS_DIR } from '../../electron/engine/format/constants.js';
import { defaultPolicy, keptPoints } from '../../electron/engine/retention/policy.js';
import { executeThinning, planThinning } from '../../electron/engine/retention/thin.js';
import { cliPath, repoRoot, runCli } from '../helpers/cli.js';
import { imageHash, prng, randomHistory } from '../helpers/history.js';

/**
 * Thinning SIGKILLed at random moments, round after round. Each round copies a pristine
 * appliance (three small disks, about a hundred points, bookmarks), thins it in a child
 * process — the test's thin-child with a random keep set, or `chronodisk prune --yes --now
 * <far future>` — and kills it after a delay spread over the thinning's measured duration.
 * Then the appliance must open as writer, pass check --read-data, show either the whole old
 * timeline or exactly the kept points (never a mix), and every point on it must read back
 * byte for byte as before thinning (sha256): nothing half-merged, nothing counted twice.
 */

const ROUNDS = Number(process.env.RETENTION_CRASH_ROUNDS) || 32;
const KiB = 1024;
const childJs = join(repoRoot, 'dist/test/helpers/thin-child.js');
const FAR_FUTURE = '2100-01-01T00:00:00Z';
const root = mkdtempSync(join(tmpdir(), 'chronodisk-thin-crash-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

interface Pristine {
  name: string;
  dir: string;
  passphrase?: string;
  /** seq → sha256 of its disk's image at that point. */
  hashes: Map<number, string>;
  /** disk name → its points' seqs, in order. */
  points: Map<string, number[]>;
  /** disk name → bookmarked seqs. */
  pinned: Map<string, Set<number>>;
  /** disk name → the seqs the CLI's prune (default policy, far-future clock) keeps. */
  cliKeeps: Map<string, Set<number>>;
}

const disks = [
  { name: 'd0', size: 1024 * KiB, writes: 900 },
  { name: 'd1', size: 512 * KiB, writes: 500 },
  { name: 'd2', size: 256 * KiB, writes: 250 },
];

async function buildPristine(name: string, passphrase: string | undefined, seed: number): Promise<Pristine> {
  const dir = join(root, `pristine-${name}`);
  await Appliance.init(dir, { passphrase });
  // Small segments: the history spans many, and so does the thinned output.
  const app = await Appliance.open(dir, { writable: true, passphrase, segmentTargetSize: 256 * KiB });
  const p: Pristine = { name, dir, passphrase, hashes: new Map(), points: new Map(), pinned: new Map(), cliKeeps: new Map() };
  try {
    const recs = disks.map((d) => app.addDisk({ name: d.name, source: '/dev/null', size: d.size, mode: 'scan', blockSize: 4096, identity: {} }));
    // The disks' batches interleave, so a merged run of one disk spans another's records.
    const histories = await Promise.all(recs.map((r, i) => randomHistory(app, r, { seed: seed + i, writes: disks[i]!.writes, maxLength: 8000, keepEvery: 1 })));
    const farFuture = Date.parse(FAR_FUTURE) * 1000;
    for (const [i, r] of recs.entries()) {
      for (const h of histories[i]!) p.hashes.set(h.seq, h.hash);
      const pts = app.timeline.points(r);
      expect(pts.map((x) => x.seq)).toEqual(histories[i]!.map((h) => h.seq));
      // Two bookmarks per disk, one early, one in the middle: pinned through every thinning.
      app.addBookmark(r, pts[1]!, 'early');
      app.addBookmark(r, pts[Math.floor(pts.length / 2)]!, 'middle');
      const pinned = new Set(app.bookmarks(r).map((b) => b.seq));
      p.points.set(r.name, pts.map((x) => x.seq));
      p.pinned.set(r.name, pinned);
      p.cliKeeps.set(r.name, keptPoints(pts, defaultPolicy, farFuture, pinned));
      // The shadow's hashes are what the appliance reads: the baseline of every comparison.
      for (const x of pts) expect(imageHash(app, r, x.seq), `${name} ${r.name}@${x.seq}`).toBe(p.hashes.get(x.seq));
    }
  } finally {
    app.close();
  }
  return p;
}

/** A random keep set per disk: each point with probability `share`, plus the bookmarks and the latest. */
function randomKeeps(p: Pristine, rand: () => number): Map<string, Set<number>> {
  const share = [0.05, 0.25, 0.5, 0.8][Math.floor(rand() * 4)]!;
  const out = new Map<string, Set<number>>();
  for (const [disk, seqs] of p.points) {
    const keep = new Set(seqs.filter(() => rand() < share));
    for (const s of p.pinned.get(disk)!) keep.add(s);
    keep.add(seqs[seqs.length - 1]!);
    out.set(disk, keep);
  }
  return out;
}

interface ChildRun {
  killed: boolean;
  /** Spawn to exit. */
  ms: number;
  /** From the last progress line (the build done; the swap and index rebuild follow) to exit. */
  tailMs: number;
  stdout: string;
}

/**
 * When to kill: once thin-child has taken up a share of the commits (plus a few ms), a
 * while after its last progress line (in the swap: seal, manifest record, deletes, index
 * rebuild), or a while after spawn (the CLI, which prints no progress without a terminal).
 */
type Kill = { after: 'share'; share: number; ms: number } | { after: 'last progress'; ms: number } | { after: 'spawn'; ms: number };

/** Runs the thinning child — thin-child or the CLI's prune — and kills it as `kill` says, if given. */
function runThinning(kind: 'child' | 'cli', dir: string, keepFile: string, p: Pristine, kill?: Kill): Promise<ChildRun> {
  const args = kind === 'child' ? [childJs, dir, keepFile] : [cliPath, 'prune', '-a', dir, '--yes', '--now', FAR_FUTURE, '--json'];
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, CHRONODISK_DEBUG: '', CHRONODISK_PASSPHRASE: p.passphrase ?? '', CHRONODISK_THIN_SEGMENT_SIZE: String(128 * KiB) },
    });
    let out = '';
    let err = '';
    let lastProgressAt = t0;
    let timer: NodeJS.Timeout | undefined;
    const arm = (ms: number) => (timer ??= setTimeout(() => child.kill('SIGKILL'), ms));
    if (kill?.after === 'spawn') arm(kill.ms);
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      out += chunk;
      for (const m of chunk.matchAll(/^p (\d+) (\d+)$/gm)) {
        const [done, total] = [Number(m[1]), Number(m[2])];
        if (done === total) lastProgressAt = performance.now();
        if (kill?.after === 'share' && done >= kill.share * total) arm(kill.ms);
        if (kill?.after === 'last progress' && done === total) arm(kill.ms);
      }
    });
    child.stderr.on('data', (chunk: string) => (err += chunk));
    const deadline = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const end = performance.now();
      clearTimeout(timer);
      clearTimeout(deadline);
      const run = { ms: end - t0, tailMs: end - lastProgressAt, stdout: out };
      if (signal === 'SIGKILL' && timer !== undefined) return resolve({ killed: true, ...run });
      if (code !== 0) return reject(new Error(`${kind} thinning exited ${code ?? signal}: ${err}`));
      resolve({ killed: false, ...run });
    });
  });
}

/** What a killed thinning left: the old timeline or the new one, never a mix; returns which. */
async function verifyAfter(dir: string, p: Pristine, keeps: Map<string, Set<number>>, ctx: string, cliCheck: boolean): Promise<'old' | 'new'> {
  if (cliCheck) {
    // The CLI first, so that it is the first to open what the kill left.
    const check = runCli(['check', '-a', dir, '--read-data'], { env: { CHRONODISK_PASSPHRASE: p.passphrase ?? '' } });
    expect(check.status, `${ctx}: check --read-data\n${check.stdout}${check.stderr}`).toBe(0);
  }
  // The writer's start recovers: sweeps strays and retired segments, rebuilds a stale index.
  const app = await Appliance.open(dir, { writable: true, passphrase: p.passphrase });
  try {
    const live = app.catalog.state.liveSegments().map((s) => s.id);
    const files = readdirSync(join(dir, SEGMENTS_DIR)).filter((f) => f.endsWith('.seg')).map((f) => Number(f.slice(0, 10)));
    expect(files.sort((a, b) => a - b), `${ctx}: segment files are the live ones`).toEqual(live);
    if (!cliCheck) expect(checkAppliance(app, { readData: true }).problems, `${ctx}: check --read-data`).toEqual([]);
    const states = new Set<'old' | 'new'>();
    for (const d of app.disks()) {
      const seqs = app.timeline.points(d).map((x) => x.seq);
      const old = p.points.get(d.name)!;
      const kept = old.filter((s) => keeps.get(d.name)!.has(s));
      const state = equal(seqs, old) ? 'old' : equal(seqs, kept) ? 'new' : undefined;
      expect(state, `${ctx}: ${d.name}'s timeline is neither the old one nor the kept points: ${seqs.join(',')}`).toBeDefined();
      states.add(state!);
      // Every point still there reads exactly as before thinning.
      for (const s of seqs) expect(imageHash(app, d, s), `${ctx}: ${d.name}@${s}`).toBe(p.hashes.get(s));
      for (const s of p.pinned.get(d.name)!) expect(seqs, `${ctx}: bookmarked ${d.name}@${s}`).toContain(s);
    }
    // One manifest record swaps every disk's segments at once.
    expect(states.size, `${ctx}: some disks thinned, others not`).toBe(1);
    return [...states][0]!;
  } finally {
    app.close();
  }
}

function equal(a: number[], b: number[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function writeKeeps(file: string, keeps: Map<string, Set<number>>): void {
  writeFileSync(file, JSON.stringify(Object.fromEntries([...keeps].map(([k, v]) => [k, [...v]]))));
}

function copyPristine(p: Pristine, dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  execFileSync('cp', ['-a', p.dir, dir]);
}

describe('crash: thinning SIGKILLed at random moments', () => {
  it(`leaves the old timeline or the new, every remaining point byte-exact, over ${ROUNDS} rounds`, async () => {
    const plain = await buildPristine('plain', undefined, 11);
    const encrypted = await buildPristine('encrypted', 'a long enough passphrase', 23);
    const dir = join(root, 'work');
    const keepFile = join(root, 'keep.json');
    const rand = prng(20261125);

    // Un-killed runs first: their durations spread the kill delays over the whole thinning.
    const measured = new Map<string, ChildRun>();
    for (const [kind, p] of [['child', plain], ['child', encrypted], ['cli', plain]] as const) {
      copyPristine(p, dir);
      const keeps = kind === 'cli' ? p.cliKeeps : randomKeeps(p, rand);
      writeKeeps(keepFile, keeps);
      const run = await runThinning(kind, dir, keepFile, p);
      expect(run.stdout).toMatch(kind === 'cli' ? /"done": true/ : /^ready \d+\n(p \d+ \d+\n)+done \d+ \d+\n$/);
      expect(await verifyAfter(dir, p, keeps, `un-killed ${kind} on ${p.name}`, true)).toBe('new');
      measured.set(`${kind} ${p.name}`, run);
    }

    const outcomes = { old: 0, new: 0, finished: 0, resumed: 0 };
    /** Per round: where the kill was aimed, and what it left. */
    const trace: string[] = [];
    let current: { p: Pristine; keeps: Map<string, Set<number>>; kind: 'child' | 'cli' } | undefined;
    for (let round = 1; round <= ROUNDS; round++) {
      // Mostly a fresh copy; sometimes thin again what the last kill left (a second crash on top).
      const again = current !== undefined && rand() < 0.2;
      if (!again) {
        const kind = round % 6 === 0 ? 'cli' : 'child';
        const p = kind === 'child' && rand() < 0.4 ? encrypted : plain;
        current = { p, kind, keeps: kind === 'cli' ? p.cliKeeps : randomKeeps(p, rand) };
        copyPristine(p, dir);
      }
      const { p, keeps, kind } = current!;
      writeKeeps(keepFile, keeps);
      const m = measured.get(`${kind} ${p.name}`)!;
      const kill: Kill =
        kind === 'cli'
          ? { after: 'spawn', ms: Math.floor(rand() * m.ms * 1.1) }
          : rand() < 0.6
            ? { after: 'share', share: rand(), ms: Math.floor(rand() * 15) }
            : { after: 'last progress', ms: Math.floor(rand() * m.tailMs) };
      const aim = kill.after === 'share' ? `${Math.round(kill.share * 100)}% of the commits +${kill.ms} ms` : `${kill.ms} ms after ${kill.after}`;
      const run = await runThinning(kind, dir, keepFile, p, kill);
      const ctx = `round ${round} (${kind} on ${p.name}${again ? ', again' : ''}, killed at ${aim})`;
      if (!run.killed) outcomes.finished++;
      const state = await verifyAfter(dir, p, keeps, ctx, round % 5 === 0);
      outcomes[state]++;
      trace.push(`${kind === 'cli' ? 'cli ' : ''}${kill.after === 'share' ? `${Math.round(kill.share * 100)}%` : `${kill.after === 'spawn' ? '' : 'tail '}${kill.ms}ms`}${run.killed ? '' : ' (finished)'}→${state}`);

      // Now and then, thin to the end in-process what the kill left, and check the result.
      if (rand() < 0.15) {
        const app = await Appliance.open(dir, { writable: true, passphrase: p.passphrase, segmentTargetSize: 128 * KiB });
        try {
          const plan = planThinning(app, Date.parse(FAR_FUTURE) * 1000, (d) => keeps.get(d.name));
          await executeThinning(app, plan);
        } finally {
          app.close();
        }
        expect(await verifyAfter(dir, p, keeps, `${ctx}, then thinned to the end`, false)).toBe('new');
        outcomes.resumed++;
      }
    }
    console.log(
      `retention crash test: ${ROUNDS} rounds; old timeline after ${outcomes.old}, new after ${outcomes.new} (${outcomes.finished} finished before the kill); ` +
        `${outcomes.resumed} thinned to the end afterwards; measured ${[...measured].map(([k, v]) => `${k} ${Math.round(v.ms)} ms (tail ${Math.round(v.tailMs)} ms)`).join(', ')}\n${trace.join(', ')}`,
    );
    // The kills must have landed on both sides of the manifest record.
    expect(outcomes.old).toBeGreaterThan(2);
    expect(outcomes.new).toBeGreaterThan(2);
  }, 400_000);
});
