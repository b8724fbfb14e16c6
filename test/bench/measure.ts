import { execFileSync } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { textPool } from '../helpers/text-pool.js';

export { textPool };

/**
 * What every bench file shares: a clock, percentiles, MB/s and ratio formatting, test
 * data, and report(), which prints a table and keeps it for the runner's --json output.
 */

export const KiB = 1024;
export const MiB = 1024 * KiB;
export const GiB = 1024 * MiB;

/** Milliseconds, sub-microsecond resolution. */
export function now(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

export async function timed<T>(fn: () => Promise<T> | T): Promise<{ ms: number; value: T }> {
  const t0 = now();
  const value = await fn();
  return { ms: now() - t0, value };
}

/** The p-th percentile (0..100) of samples, nearest rank. Sorts a copy. */
export function percentile(samples: number[], p: number): number {
  if (samples.length === 0) return NaN;
  const s = Float64Array.from(samples).sort();
  const rank = Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1));
  return s[rank]!;
}

/** Decimal MB/s (10^6 bytes per second), as disk vendors and fio print them. */
export function mbps(bytes: number, ms: number): number {
  return bytes / 1e6 / (ms / 1000);
}

export function fmtMBps(x: number): string {
  return `${x >= 100 ? x.toFixed(0) : x.toFixed(1)} MB/s`;
}

export function fmtMs(ms: number): string {
  if (ms < 1) return `${(ms * 1000).toFixed(0)} µs`;
  if (ms < 10_000) return `${ms.toFixed(ms < 10 ? 2 : 0)} ms`;
  return `${(ms / 1000).toFixed(1)} s`;
}

/** ours / raw, e.g. "0.62×". */
export function fmtRatio(ours: number, raw: number): string {
  return `${(ours / raw).toFixed(2)}×`;
}

export function fmtBytes(n: number): string {
  if (n >= GiB) return `${+(n / GiB).toFixed(2)} GiB`;
  if (n >= MiB) return `${+(n / MiB).toFixed(1)} MiB`;
  if (n >= KiB) return `${+(n / KiB).toFixed(1)} KiB`;
  return `${n} B`;
}

/** Target check for the report: the targets are printed, never asserted. */
export function verdict(met: boolean): string {
  return met ? 'met' : 'MISSED';
}

export type Cell = string | number;

export interface Table {
  title: string;
  columns: string[];
  rows: Cell[][];
  /** One-line remarks printed under the table (targets, how it was measured). */
  notes?: string[];
  /** Raw numbers for --json, keyed by row label. */
  data?: Record<string, Record<string, number>>;
}

let currentSuite = '';
const tables = new Map<string, Table[]>();
/** With --json the tables go to stderr, so stdout holds only the JSON object. */
let out: (line: string) => void = (line) => process.stdout.write(line + '\n');

export function beginSuite(name: string): void {
  currentSuite = name;
  if (!tables.has(name)) tables.set(name, []);
}

export function printToStderr(): void {
  out = (line) => process.stderr.write(line + '\n');
}

export function log(line: string): void {
  out(line);
}

export function collected(): Map<string, Table[]> {
  return tables;
}

/** Prints a table (columns padded to fit) and keeps it for --json. */
export function report(t: Table): void {
  tables.get(currentSuite)?.push(t);
  const cells = [t.columns, ...t.rows.map((r) => r.map(String))];
  const widths = t.columns.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  out('');
  out(`## ${t.title}`);
  out(line(t.columns));
  out(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of cells.slice(1)) out(line(r));
  for (const n of t.notes ?? []) out(`  ${n}`);
}

/** A scale factor for data volumes (--quick sets 1/8), so a smoke run takes seconds. */
let scale = 1;
export function setScale(s: number): void {
  scale = s;
}
export function scaled(n: number, unit = 1): number {
  return Math.max(unit, Math.round((n * scale) / unit) * unit);
}

export function tempDir(prefix: string): { path: string; remove(): void } {
  // BENCH_DIR lets a run target a particular drive (the appliance normally lives on one).
  const path = mkdtempSync(join(process.env.BENCH_DIR ?? tmpdir(), `chronodisk-bench-${prefix}-`));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/**
 * Writes back every dirty page, untimed: a timed write then starts on a quiet disk rather
 * than behind the writeback of whatever ran before it (an earlier suite's gigabyte, the
 * run's own source files).
 */
export function writeBack(): void {
  execFileSync('sync');
}

/** Writes back dirty pages and drops the page cache so a read measures the disk; false when not permitted. */
export function dropCaches(check: string[] = []): boolean {
  try {
    // Dirty pages are not dropped: a file just written would still read from memory. And
    // a drop has been seen to leave a file just written whole in memory (a raw file "cold"
    // at 8 GB/s): the files named in `check` are looked at with fincore, and dropped again.
    for (let attempt = 0; attempt < 3; attempt++) {
      writeBack();
      writeFileSync('/proc/sys/vm/drop_caches', '3');
      if (residentBytes(check) === 0) return true;
    }
    return false;
  } catch {
    return false;
  }
}

/** Bytes of `paths` (files, or directories: the files in them) in the page cache, by fincore. */
export function residentBytes(paths: string[]): number {
  const files = paths.flatMap((p) => (statSync(p).isDirectory() ? readdirSync(p).map((f) => join(p, f)) : [p]));
  if (files.length === 0) return 0;
  const out = execFileSync('fincore', ['--bytes', '--noheadings', '--raw', '--output', 'RES', ...files], { encoding: 'utf8' });
  return out.split('\n').reduce((sum, line) => sum + (Number(line.trim()) || 0), 0);
}

/** Random, incompressible bytes. */
export function randomPool(length: number): Buffer {
  const b = Buffer.allocUnsafe(length);
  for (let at = 0; at < length; at += 64 * MiB) randomFillSync(b, at, Math.min(64 * MiB, length - at));
  return b;
}

export { prng } from '../helpers/prng.js';

export type DataKind = 'text' | 'files' | 'random';

/**
 * 64 MiB of each kind, made once per run: writes take slices of it. The bytes sit in
 * shared memory, as a capture's read buffers do, so a producer can lend them to the
 * writer (CaptureBatch.lend) the way scan and track capture do.
 */
const pools = new Map<DataKind, Buffer>();
export function pool(kind: DataKind): Buffer {
  let p = pools.get(kind);
  if (!p) {
    const bytes = kind === 'text' ? textPool(64 * MiB) : kind === 'files' ? filesPool(64 * MiB) : randomPool(64 * MiB);
    p = Buffer.from(new SharedArrayBuffer(bytes.length));
    bytes.copy(p);
    pools.set(kind, p);
  }
  return p;
}

/**
 * Real files, as a disk holds them: the project's node_modules in path order (JavaScript,
 * type declarations, JSON, docs, native libraries; each file at most 4 MiB), repeated up
 * to `length`. The same on every machine that ran `npm ci` on the same lock file. zstd-1
 * shrinks it about as much as textPool (2.5–3×) but, with real repetition in it, runs
 * 2–3× faster: textPool's independent random words are its slow worst case.
 */
export function filesPool(length: number): Buffer {
  const out = Buffer.allocUnsafe(length);
  let at = 0;
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      if (at >= length) return;
      const path = join(dir, e.name);
      if (e.isDirectory()) walk(path);
      else if (e.isFile()) {
        const data = readFileSync(path);
        at += data.copy(out, at, 0, Math.min(data.length, 4 * MiB));
      }
    }
  };
  walk(join(fileURLToPath(new URL('../../', import.meta.url)).replace(/\/dist\/?$/, ''), 'node_modules'));
  for (const filled = at; at < length; ) at += out.copy(out, at, 0, Math.min(filled, length - at));
  return out;
}

/** The bytes of the i-th write of `size` bytes: a slice of the pool, varying with i. */
export function slice(p: Buffer, i: number, size: number): Buffer {
  const span = p.length - size;
  const at = Math.floor(((i * 7919 * 4096) % span) / 512) * 512;
  return p.subarray(at, at + size);
}

export function dirBytes(path: string): number {
  let n = 0;
  for (const f of readdirSync(path)) n += statSync(join(path, f)).size;
  return n;
}

