/**
 * The file browser: the volumes of the selected disk at the shown point, the folder being
 * looked at, its entries (folders first) and which of them are selected.
 */
import { create } from 'zustand';
import type { FileEntry, Point, Volume } from '../../../shared/contract.js';
import { sortEntries } from '../model/file-order.js';
import { clickRow, keepListed, type ClickKind, type RowSelection } from '../model/row-selection.js';
import type { Remedy } from '../../../shared/errors.js';
import { attempt, call } from './service-call.js';

interface Problem {
  text: string;
  remedy?: Remedy;
}

interface BrowserState {
  disk: string | undefined;
  at: string;
  volumes: Volume[];
  /** The disk address being browsed (DISK or DISK:N). */
  volume: string | undefined;
  path: string;
  entries: FileEntry[];
  /** The point the listing was read at (the service's answer). */
  point: Point | undefined;
  loading: boolean;
  /** Why there is no listing (one line), shown in place of it, with what its error says to do. */
  problem: Problem | undefined;
  selection: RowSelection;

  open(disk: string, at: string): Promise<void>;
  setVolume(address: string): Promise<void>;
  navigate(path: string): Promise<void>;
  refresh(): Promise<void>;
  click(name: string, kind: ClickKind): void;
  setSelected(names: string[]): void;
  clear(): void;
}

/** Counts listings, so only the answer to the latest one is shown. */
let ticket = 0;

function pickVolume(volumes: Volume[], keep: string | undefined): string | undefined {
  if (keep && volumes.some((v) => v.address === keep && v.browsable)) return keep;
  // The largest browsable filesystem is most likely the one with the person's files.
  const browsable = volumes.filter((v) => v.browsable).sort((a, b) => b.size - a.size);
  return (browsable[0] ?? volumes[0])?.address;
}

export const useBrowserStore = create<BrowserState>((set, get) => {
  const list = async (path: string) => {
    const { volume, at } = get();
    const t = ++ticket;
    const v = get().volumes.find((x) => x.address === volume);
    if (!volume || !v) return set({ entries: [], loading: false, problem: get().volumes.length ? undefined : { text: 'No filesystem found on this disk at this point.' } });
    if (!v.browsable) return set({ entries: [], loading: false, problem: { text: `This ${v.fsType === 'unknown' ? 'volume holds no filesystem Chronodisk can read' : `${v.fsType} volume cannot be browsed`}; restore the whole disk instead.` } });
    set({ loading: true });
    const r = await attempt('listFiles', { disk: volume, at, path });
    if (t !== ticket) return;
    if (r.ok) {
      const entries = sortEntries(r.value.entries);
      set((s) => ({ path, entries, point: r.value.point, loading: false, problem: undefined, selection: keepListed(s.selection, entries.map((e) => e.name)) }));
    } else if (r.code === 'not-found' && path !== '/') {
      // The folder did not exist at this point: show its nearest parent that did.
      set({ loading: false });
      await list(path.slice(0, Math.max(1, path.lastIndexOf('/'))));
    } else {
      set({ entries: [], loading: false, problem: { text: r.message, remedy: r.remedy }, selection: { selected: [], anchor: undefined } });
    }
  };

  return {
    disk: undefined,
    at: 'now',
    volumes: [],
    volume: undefined,
    path: '/',
    entries: [],
    point: undefined,
    loading: false,
    problem: undefined,
    selection: { selected: [], anchor: undefined },

    async open(disk, at) {
      const sameDisk = get().disk === disk;
      const t = ++ticket;
      set({ disk, at, loading: true, ...(sameDisk ? {} : { volumes: [], volume: undefined, path: '/', entries: [], point: undefined, selection: { selected: [], anchor: undefined } }) });
      const volumes = await call('listVolumes', { disk, at });
      if (t !== ticket) return;
      if (!volumes) return set({ loading: false, problem: { text: 'The volumes of this disk could not be read.' } });
      const volume = pickVolume(volumes, get().volume);
      set({ volumes, volume, ...(volume !== get().volume ? { path: '/' } : {}) });
      await list(get().path);
    },

    async setVolume(address) {
      set({ volume: address, path: '/', selection: { selected: [], anchor: undefined } });
      await list('/');
    },

    async navigate(path) {
      set({ selection: { selected: [], anchor: undefined } });
      await list(path);
    },

    async refresh() {
      const { disk, at } = get();
      if (disk) await get().open(disk, at);
    },

    click(name, kind) {
      set((s) => ({ selection: clickRow(s.selection, s.entries.map((e) => e.name), name, kind) }));
    },

    setSelected(names) {
      set({ selection: { selected: names, anchor: names[names.length - 1] } });
    },

    clear() {
      ticket++;
      set({ disk: undefined, volumes: [], volume: undefined, path: '/', entries: [], point: undefined, problem: undefined, loading: false, selection: { selected: [], anchor: undefined } });
    },
  };
});
