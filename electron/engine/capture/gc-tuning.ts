import { setFlagsFromString } from 'node:v8';

let tuned = false;

/**
 * Split capture keeps its heap small (~8 MB live) while socket buffers and records churn
 * through it at hundreds of MB/s; V8's heuristics then start an incremental mark-compact
 * every ~15 MB written (65 per GiB measured, its concurrent marking ~15% of the process's
 * CPU). Without incremental marking the same load ran 5–10 full collections per GiB of
 * 10–16 ms each, and the server's CPU per GiB fell about 15% (interleaved runs, see
 * docs/BENCH.md). The flag is process-wide and read at each collection, so it takes
 * effect when set at run time; only processes that run a split listener set it.
 */
export function tuneGcForSplitCapture(): void {
  if (tuned) return;
  tuned = true;
  setFlagsFromString('--no-incremental-marking');
}
