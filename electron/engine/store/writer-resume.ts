import { CatalogType, FILE_HEADER_SIZE } from '../format/constants.js';
import { isDriveFull } from '../errors.js';
import type { PayloadCodec } from '../format/payload-codec.js';
import type { IndexDb } from '../index/index-db.js';
import type { ReplayProblem, ReplayResult } from '../index/replay.js';
import type { Catalog } from './catalog.js';
import { SegmentWriter } from './segment-writer.js';

export interface WriterResumeSources {
  dir: string;
  applianceId: Buffer;
  codec: PayloadCodec;
  catalog: Catalog;
  index: IndexDb;
}

/**
 * Where a new writer goes on after the replay at its start: the open segment that replay
 * found is resumed at its last valid record, or sealed first when that is not safe (damage
 * at its tail: never append after it; or a seal record a crash left without its catalog
 * record: the rotation is finished). Returns the segment writer and what needs reporting.
 *
 * On a drive too full for the catalog's seal record, the seal waits for the writer's first
 * new segment: a full appliance still opens for its writer (README), and nothing is ever
 * appended to the segment meanwhile.
 */
export function resumeSegmentWriter(src: WriterResumeSources, open: ReplayResult['open'], targetSize: number): { writer: SegmentWriter; problems: ReplayProblem[] } {
  const { catalog, index } = src;
  const problems: ReplayProblem[] = [];
  const now = () => Date.now() * 1000;
  const seal = (id: number, size: number) => catalog.append(CatalogType.SegmentSeal, { id, size }, now());
  let unsealed: { id: number; size: number } | undefined;
  const sealNowOrLater = (id: number, size: number) => {
    try {
      seal(id, size);
    } catch (e) {
      if (!isDriveFull(e)) throw e;
      unsealed = { id, size };
    }
  };
  let resume: { id: number; end: number; records: number } | undefined;
  if (open) {
    if (open.tail.kind === 'damaged') {
      problems.push({ segment: open.id, at: open.end, reason: open.tail.reason });
      sealNowOrLater(open.id, open.end);
    } else if (open.sealed) {
      sealNowOrLater(open.id, open.end);
    } else {
      index.dropStagedFrom(open.id, open.end);
      resume = { id: open.id, end: Math.max(open.end, FILE_HEADER_SIZE), records: 0 };
    }
  }
  const opened = (id: number) => {
    // Unless a thinning's manifest retired the segment meanwhile: a seal would revive it.
    if (unsealed && catalog.state.segments.get(unsealed.id)?.state === 'open') seal(unsealed.id, unsealed.size);
    unsealed = undefined;
    catalog.append(CatalogType.SegmentOpen, { id }, now());
  };
  const writer = new SegmentWriter(src.dir, src.applianceId, src.codec, { opened, sealed: seal }, targetSize);
  writer.resume(resume, catalog.state.nextSegmentId());
  writer.asyncFlush = true;
  return { writer, problems };
}
