import { CatalogType } from '../format/constants.js';

export interface CatalogEntry {
  type: CatalogType;
  number: number;
  timeUs: number;
  body: Record<string, unknown>;
}

export type CaptureMode = 'scan' | 'track' | 'split';

/** A disk registered with the appliance. `id` is never reused. */
export interface DiskRecord {
  id: number;
  name: string;
  source: string;
  size: number;
  mode: CaptureMode;
  blockSize: number;
  identity: Record<string, string>;
  createdUs: number;
}

export interface BookmarkRecord {
  diskId: number;
  seq: number;
  label: string;
  timeUs: number;
}

export interface SegmentState {
  id: number;
  state: 'open' | 'sealed' | 'retired';
  size?: number;
}

/**
 * The appliance's metadata as the catalog describes it after replay. Pure: apply() is the
 * only way it changes, so the same records always give the same state (rebuild relies on it).
 */
export class CatalogState {
  readonly disks = new Map<number, DiskRecord>();
  readonly removedDisks = new Map<number, DiskRecord & { historyDeleted: boolean }>();
  /** diskId → label → bookmark */
  readonly bookmarks = new Map<number, Map<string, BookmarkRecord>>();
  readonly settings = new Map<string, unknown>();
  readonly segments = new Map<number, SegmentState>();
  generation = 0;

  apply(e: CatalogEntry): void {
    const b = e.body;
    switch (e.type) {
      case CatalogType.DiskAdd:
        this.disks.set(b.id as number, b as unknown as DiskRecord);
        break;
      case CatalogType.DiskUpdate: {
        const d = this.disks.get(b.id as number);
        if (d) this.disks.set(d.id, { ...d, ...(b as Partial<DiskRecord>) });
        break;
      }
      case CatalogType.DiskRemove: {
        const d = this.disks.get(b.id as number);
        if (d) {
          this.disks.delete(d.id);
          this.removedDisks.set(d.id, { ...d, historyDeleted: Boolean(b.deleteHistory) });
          if (b.deleteHistory) this.bookmarks.delete(d.id);
        }
        break;
      }
      case CatalogType.BookmarkAdd: {
        const bm = b as unknown as BookmarkRecord;
        let m = this.bookmarks.get(bm.diskId);
        if (!m) this.bookmarks.set(bm.diskId, (m = new Map()));
        m.set(bm.label, bm);
        break;
      }
      case CatalogType.BookmarkRemove:
        this.bookmarks.get(b.diskId as number)?.delete(b.label as string);
        break;
      case CatalogType.Setting:
        this.settings.set(b.key as string, b.value);
        break;
      case CatalogType.SegmentOpen:
        this.segments.set(b.id as number, { id: b.id as number, state: 'open' });
        break;
      case CatalogType.SegmentSeal: {
        const s = this.segments.get(b.id as number);
        this.segments.set(b.id as number, { ...(s ?? { id: b.id as number }), state: 'sealed', size: b.size as number });
        break;
      }
      case CatalogType.Manifest: {
        // Thinning swaps segments: new ones become live, old ones retire, in one record.
        this.generation = b.generation as number;
        for (const id of (b.added as number[]) ?? []) this.segments.set(id, { id, state: 'sealed', size: (b.sizes as Record<string, number>)?.[id] });
        for (const id of (b.retired as number[]) ?? []) {
          const s = this.segments.get(id);
          if (s) s.state = 'retired';
        }
        break;
      }
    }
  }

  diskByName(name: string): DiskRecord | undefined {
    for (const d of this.disks.values()) if (d.name === name) return d;
    return undefined;
  }

  liveSegments(): SegmentState[] {
    return [...this.segments.values()].filter((s) => s.state !== 'retired').sort((a, b) => a.id - b.id);
  }

  nextDiskId(): number {
    return Math.max(0, ...this.disks.keys(), ...this.removedDisks.keys()) + 1;
  }

  nextSegmentId(): number {
    return Math.max(0, ...this.segments.keys()) + 1;
  }
}
