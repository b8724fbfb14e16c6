import { formatIsoMicros } from '../../shared/time.js';
import type { BookmarkRecord, DiskRecord } from '../engine/store/catalog-state.js';
import { flagNames, type PointInfo } from '../engine/timeline.js';

/** The --json shapes of engine records: camelCase, bytes, ISO-8601 µs times, `seq`. */
export function pointJson(p: PointInfo) {
  return { seq: p.seq, disk: p.disk, time: formatIsoMicros(p.timeUs), flags: flagNames(p.flags), label: p.label ?? undefined, bytes: p.bytes };
}

export function bookmarkJson(disk: string, b: Pick<BookmarkRecord, 'seq' | 'label' | 'timeUs'>) {
  return { disk, seq: b.seq, label: b.label, time: formatIsoMicros(b.timeUs) };
}

/** A disk as the engine records it or as the service sends it (the same fields; its identity a JSON object either way). */
export type DiskLike = Omit<DiskRecord, 'identity'> & { identity: unknown };

export function diskJson(d: DiskLike) {
  return { id: d.id, name: d.name, source: d.source, size: d.size, mode: d.mode, blockSize: d.blockSize, identity: d.identity, created: formatIsoMicros(d.createdUs) };
}
