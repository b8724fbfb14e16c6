import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { CatalogType, SEGMENTS_DIR } from '../format/constants.js';
import type { PayloadCodec } from '../format/payload-codec.js';
import type { Catalog } from './catalog.js';
import { SegmentWriter } from './segment-writer.js';
import { segmentPath, type SegmentFiles } from './segment-file.js';

export interface SwapContext {
  dir: string;
  applianceId: Buffer;
  codec: PayloadCodec;
  catalog: Catalog;
  files: SegmentFiles;
  writer: SegmentWriter;
  segmentTargetSize?: number;
}

/**
 * Replaces the live segments `choose` names by new ones that `build` writes (thinning),
 * crash-safely:
 *  1. the live writer seals its segment and parks;
 *  2. `build` writes the new segments (ids above every existing one), each sealed and
 *     durable — none is live yet, so a crash here leaves them as strays, swept later;
 *  3. one catalog *manifest* record makes them live and retires the old ones, at once;
 *  4. the writer continues in a fresh segment.
 * The caller then rebuilds the index and only after that deletes the retired files
 * (retireSegments): readers still looking at the old index find the old files. An index
 * of an older generation is rebuilt at open too, and the files swept as strays, should a
 * crash come first.
 */
export async function swapSegments(
  ctx: SwapContext,
  choose: () => number[],
  build: (out: SegmentWriter, rewritten: Set<number>) => Promise<void>,
): Promise<{ added: number[]; retired: number[]; bytesWritten: number }> {
  const { catalog } = ctx;
  ctx.writer.sealNow();
  // Only the segments that hold records to drop or merge are rewritten; the rest stay.
  const retired = choose();
  const firstId = Math.max(catalog.state.nextSegmentId(), ...strayIds(ctx.dir).map((i) => i + 1));
  const sizes: Record<number, number> = {};
  const added: number[] = [];
  const out = new SegmentWriter(
    ctx.dir,
    ctx.applianceId,
    ctx.codec,
    {
      opened: (id) => added.push(id),
      sealed: (id, size) => (sizes[id] = size),
    },
    ctx.segmentTargetSize,
  );
  out.resume(undefined, firstId);
  try {
    await build(out, new Set(retired));
    out.sealNow();
    out.close();
  } catch (e) {
    // Nothing is live yet: drop what was written (a full disk needs that room back most).
    // The parked writer opens its next segment when it next appends: those ids are free.
    try {
      out.close();
    } catch {
      // the files go anyway
    }
    for (const id of added) rmSync(segmentPath(ctx.dir, id), { force: true });
    throw e;
  }
  const bytesWritten = out.serial;
  // An output segment that got no record beyond its header is not worth keeping.
  const kept = added.filter((id) => sizes[id] !== undefined);
  for (const id of added) if (sizes[id] === undefined) rmSync(segmentPath(ctx.dir, id), { force: true });
  catalog.append(CatalogType.Manifest, { generation: catalog.state.generation + 1, added: kept, retired, sizes }, Date.now() * 1000);
  await ctx.writer.restartAt(Math.max(catalog.state.nextSegmentId(), ...added.map((i) => i + 1)));
  return { added: kept, retired, bytesWritten };
}

function strayIds(dir: string): number[] {
  try {
    return readdirSync(join(dir, SEGMENTS_DIR))
      .map((f) => /^(\d{10})\.seg$/.exec(f)?.[1])
      .filter((x): x is string => x !== undefined)
      .map(Number);
  } catch {
    return [];
  }
}

/** Deletes segment files that are not live: retired ones, and strays of a thinning cut short. */
export function sweepStrays(dir: string, catalog: Catalog): number {
  const live = new Set(catalog.state.liveSegments().map((s) => s.id));
  let n = 0;
  for (const id of strayIds(dir)) {
    if (!live.has(id)) {
      rmSync(segmentPath(dir, id), { force: true });
      n++;
    }
  }
  return n;
}

/** Closes and deletes retired segment files, once no index names them any more. */
export function retireSegments(ctx: Pick<SwapContext, 'dir' | 'catalog' | 'files'>, retired: number[]): void {
  for (const id of retired) ctx.files.forget(id);
  sweepStrays(ctx.dir, ctx.catalog);
}
