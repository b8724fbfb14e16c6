import { CatalogType, FILE_HEADER_SIZE } from '../format/constants.js';
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
 */
export function resumeSegmentWriter(src: WriterResumeSources, open: ReplayResult['open'], targetSize: number): { writer: SegmentWriter; problems: ReplayProblem[] } {
  const { catalog, index } = src;
  const problems: ReplayProblem[] = [];
  const seal = (id: number, size: number) => catalog.append(CatalogType.SegmentSeal, { id, size }, Date.now() * 1000);
  let resume: { id: number; end: number; records: number } | undefined;
  if (open) {
    if (open.tail.kind === 'damaged') {
      problems.push({ segment: open.id, at: open.end, reason: open.tail.reason });
      seal(open.id, open.end);
    } else if (open.sealed) {
      seal(open.id, open.end);
    } else {
      index.dropStagedFrom(open.id, open.end);
      resume = { id: open.id, end: Math.max(open.end, FILE_HEADER_SIZE), records: 0 };
    }
  }
  const writer = new SegmentWriter(
    src.dir,
    src.applianceId,
    src.codec,
    { opened: (id) => catalog.append(CatalogType.SegmentOpen, { id }, Date.now() * 1000), sealed: seal },
    targetSize,
  );
  writer.resume(resume, catalog.state.nextSegmentId());
  writer.asyncFlush = true;
  return { writer, problems };
}
