import { existsSync, statSync, statfsSync } from 'node:fs';
import { dirname } from 'node:path';
import { formatBytes, formatRate } from '../../shared/units.js';
import { formatSeconds } from '../../shared/time.js';
import { ChronodiskError } from '../engine/errors.js';

/** Prints one JSON document on stdout (the --json convention). */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

export function printLine(text = ''): void {
  process.stdout.write(`${text}\n`);
}

/** Prints aligned columns; the first row is the header. */
export function printTable(rows: string[][]): void {
  if (rows.length === 0) return;
  // reduce, not Math.max(...): a table of a long history can have more rows than a call takes arguments
  const widths = rows[0]!.map((_, i) => rows.reduce((w, r) => Math.max(w, (r[i] ?? '').length), 0));
  for (const r of rows) printLine(r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd());
}

/** A destructive verb without a TTY needs --yes; with a TTY it asks. */
export async function confirmDestructive(question: string, yes: boolean | undefined): Promise<void> {
  if (yes) return;
  if (!process.stdin.isTTY || !process.stderr.isTTY) {
    throw new ChronodiskError('usage', `${question.replace(/\?$/, '')}: refusing without a terminal; pass --yes to confirm`);
  }
  const { createInterface } = await import('node:readline/promises');
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await rl.question(`${question} [y/N] `);
    if (!/^y(es)?$/i.test(answer.trim())) throw new ChronodiskError('refused', 'not confirmed; nothing was changed');
  } finally {
    rl.close();
  }
}

/** An output file that exists is refused unless --force; a directory or a device always. */
export function refuseExistingOutput(path: string, force: boolean | undefined): void {
  const exists = existsSync(path);
  if (onKernelFilesystem(exists ? path : dirname(path))) {
    throw new ChronodiskError('usage', `${path} is a kernel file (/proc, /sys), not an image file; name a file on a disk`);
  }
  if (!exists) return;
  const st = statSync(path);
  if (st.isDirectory()) throw new ChronodiskError('usage', `${path} is a directory; name the file to write`);
  // A disk is written by restore --to, with its safety checks and a confirmation; not here.
  if (!st.isFile()) throw new ChronodiskError('usage', `${path} is not a regular file; name an image file to write (to write a disk, use restore --to)`);
  if (!force) throw new ChronodiskError('exists', `${path} already exists; pass --force to overwrite it`);
}

/**
 * Filesystems whose files are the kernel's views, not storage: their "regular files" take
 * a write or refuse it as they please and cannot be synced (proc, sysfs, debugfs, tracefs,
 * cgroup2, securityfs, configfs, bpf).
 */
const KERNEL_FILESYSTEMS = new Set([0x9fa0, 0x62656572, 0x64626720, 0x74726163, 0x63677270, 0x73636673, 0x62656570, 0xcafe4a11]);

function onKernelFilesystem(path: string): boolean {
  try {
    return KERNEL_FILESYSTEMS.has(statfsSync(path).type);
  } catch {
    return false; // a missing directory: the open names it
  }
}

export interface ProgressReport {
  phase: string;
  done: number;
  total: number;
  /** What done/total count (default bytes). */
  unit?: string;
}

/**
 * Progress on stderr, only on a TTY: phase, bytes, speed and ETA on one rewritten line.
 * Returns an update function and a finish function.
 */
export function progressLine(enabled = process.stderr.isTTY === true) {
  const started = performance.now();
  let last = 0;
  let shown = false;
  return {
    update(p: ProgressReport) {
      if (!enabled) return;
      const now = performance.now();
      if (now - last < 100 && p.done < p.total) return;
      last = now;
      const secs = (now - started) / 1000;
      const rate = secs > 0 ? p.done / secs : 0;
      const eta = rate > 0 ? (p.total - p.done) / rate : Infinity;
      const pct = p.total > 0 ? ((100 * p.done) / p.total).toFixed(1) : '0.0';
      const amount = p.unit
        ? `${p.done} of ${p.total} ${p.unit}  ${(rate || 0).toFixed(0)} ${p.unit}/s`
        : `${formatBytes(p.done)} of ${formatBytes(p.total)}  ${formatRate(p.done, secs)}`;
      process.stderr.write(`\r${p.phase}: ${pct}%  ${amount}  ETA ${formatSeconds(eta)}\x1b[K`);
      shown = true;
    },
    finish() {
      if (shown) process.stderr.write('\n');
    },
  };
}
