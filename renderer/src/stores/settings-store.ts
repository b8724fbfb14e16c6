/** The settings page: the service's settings as editable text, checked before they are sent. */
import { create } from 'zustand';
import type { Settings } from '../../../shared/contract.js';
import { MiB } from '../../../shared/units.js';
import { formatDuration, parseRetentionText } from '../model/retention-text.js';
import { attempt, call } from './service-call.js';
import { useToastStore } from './toast-store.js';

export interface SettingsDraft {
  scanIntervalSec: string;
  /** MiB per second, 0 for no limit. */
  rateLimitMiB: string;
  keepAll: string;
  hourly: string;
  daily: string;
  weekly: string;
  restoreFolders: string[];
}

interface SettingsState {
  saved: Settings | undefined;
  draft: SettingsDraft | undefined;
  problem: string | undefined;
  busy: boolean;
  load(): Promise<void>;
  edit(patch: Partial<SettingsDraft>): void;
  save(): Promise<void>;
}

export function toDraft(s: Settings): SettingsDraft {
  return {
    scanIntervalSec: String(s.scanIntervalSec),
    rateLimitMiB: String(Math.round((s.rateLimit / MiB) * 100) / 100),
    keepAll: formatDuration(s.retention.keepAllUs),
    hourly: formatDuration(s.retention.hourlyUs),
    daily: formatDuration(s.retention.dailyUs),
    weekly: s.retention.weeklyUs === null ? 'forever' : formatDuration(s.retention.weeklyUs),
    restoreFolders: [...s.restoreFolders],
  };
}

/** The settings a draft says, or one line naming the field that is wrong. */
export function fromDraft(d: SettingsDraft): Settings | string {
  const scan = Number(d.scanIntervalSec.trim());
  if (!Number.isInteger(scan) || scan <= 0 || scan > 7 * 86400) return 'Scan interval: a whole number of seconds, from 1 to 604800';
  const mib = Number(d.rateLimitMiB.trim());
  if (d.rateLimitMiB.trim() === '' || !Number.isFinite(mib) || mib < 0) return 'Read limit: MiB per second (such as 50 or 0.5), or 0 for no limit';
  const rate = Math.round(mib * MiB);
  const keepAllUs = parseRetentionText(d.keepAll, false);
  const hourlyUs = parseRetentionText(d.hourly, false);
  const dailyUs = parseRetentionText(d.daily, false);
  const weeklyUs = parseRetentionText(d.weekly, true);
  const bad = [
    ['Keep every point for', keepAllUs],
    ['Keep hourly points until', hourlyUs],
    ['Keep daily points until', dailyUs],
  ].find(([, v]) => v === undefined || v === null);
  if (bad) return `${bad[0]}: a duration such as 90m, 24h, 30d or 1y`;
  if (weeklyUs === undefined) return 'Keep weekly points until: a duration such as 2y, or forever';
  const folders = d.restoreFolders.map((f) => f.trim()).filter(Boolean);
  const relative = folders.find((f) => !f.startsWith('/') && !/^[A-Za-z]:[\\/]/.test(f));
  if (relative) return `Restore folder "${relative}" is not an absolute path`;
  return { scanIntervalSec: scan, rateLimit: rate, retention: { keepAllUs: keepAllUs!, hourlyUs: hourlyUs!, dailyUs: dailyUs!, weeklyUs }, restoreFolders: folders };
}

export const useSettingsStore = create<SettingsState>((set, get) => ({
  saved: undefined,
  draft: undefined,
  problem: undefined,
  busy: false,

  async load() {
    const s = await call('getSettings', {});
    if (s) set({ saved: s, draft: toDraft(s), problem: undefined });
  },

  edit(patch) {
    const d = get().draft;
    if (d) set({ draft: { ...d, ...patch }, problem: undefined });
  },

  async save() {
    const d = get().draft;
    if (!d || get().busy) return;
    const parsed = fromDraft(d);
    if (typeof parsed === 'string') return set({ problem: parsed });
    set({ busy: true });
    const r = await attempt('setSettings', parsed);
    set({ busy: false });
    if (!r.ok) return set({ problem: r.message });
    set({ saved: r.value, draft: toDraft(r.value), problem: undefined });
    useToastStore.getState().push('Settings saved.', 'info');
  },
}));
