/** The "Protect a drive…" flow: the drives the service offers, a name and a capture mode. */
import { create } from 'zustand';
import type { Drive } from '../../../shared/contract.js';
import { diskName } from '../../../shared/contract.js';
import { attempt, call } from './service-call.js';
import { useDisksStore } from './disks-store.js';

export type CaptureMode = 'scan' | 'track' | 'split';

interface ProtectState {
  open: boolean;
  drives: Drive[] | undefined;
  device: string | undefined;
  name: string;
  mode: CaptureMode;
  problem: string | undefined;
  busy: boolean;
  begin(): Promise<void>;
  chooseDrive(device: string): void;
  setName(name: string): void;
  setMode(mode: CaptureMode): void;
  submit(): Promise<void>;
  close(): void;
}

/** Why a drive cannot be chosen (one line), or undefined when it can. */
export function driveRefusal(d: Drive): string | undefined {
  if (d.refusal) return d.refusal;
  if (d.protectedAs) return `already protected as ${d.protectedAs}`;
  if (d.isSystem) return 'this is the system disk';
  if (d.isAppliance) return "this is the appliance's own disk";
  return undefined;
}

/** A name to start from: the device's last path part ("sdb", "backup.img" → "backup"). */
export function suggestName(device: string): string {
  const base = device.slice(device.lastIndexOf('/') + 1).replace(/\.[a-z0-9]+$/i, '');
  return base.replace(/[@:/]/g, '-') || 'disk';
}

/** One line saying what is wrong with a name, or undefined when it will do. */
export function nameProblem(name: string, taken: readonly string[]): string | undefined {
  const r = diskName.safeParse(name);
  if (!r.success) return name.length === 0 ? 'give the disk a name' : r.error.issues[0]!.message;
  if (taken.includes(name)) return `a disk named ${name} is already protected`;
  return undefined;
}

export const useProtectStore = create<ProtectState>((set, get) => ({
  open: false,
  drives: undefined,
  device: undefined,
  name: '',
  mode: 'scan',
  problem: undefined,
  busy: false,

  async begin() {
    set({ open: true, drives: undefined, device: undefined, name: '', mode: 'scan', problem: undefined });
    const drives = await call('listDrives', {});
    set({ drives: drives ?? [] });
  },

  chooseDrive(device) {
    const d = get().drives?.find((x) => x.device === device);
    if (!d || driveRefusal(d)) return;
    set((s) => ({ device, name: s.name === '' || s.name === suggestName(s.device ?? '') ? suggestName(device) : s.name }));
  },

  setName(name) {
    set({ name });
  },

  setMode(mode) {
    set({ mode });
  },

  async submit() {
    const { device, name, mode, busy } = get();
    if (busy || !device) return;
    const problem = nameProblem(name, useDisksStore.getState().disks.map((d) => d.name));
    if (problem) return set({ problem });
    set({ busy: true, problem: undefined });
    const r = await attempt('protectDisk', { device, name, mode });
    set({ busy: false });
    if (!r.ok) return set({ problem: r.message });
    set({ open: false });
    await useDisksStore.getState().load();
    useDisksStore.getState().select(r.value.name);
  },

  close() {
    set({ open: false });
  },
}));
