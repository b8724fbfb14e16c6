import { accessSync, constants, realpathSync } from 'node:fs';
import type { Appliance } from '../appliance.js';
import { probeSource } from '../devices/block-device.js';
import { listDrives, type Drive, type DrivePartition } from '../devices/drives.js';
import { checkProtectSource, factsOf, type ApplianceFacts } from '../devices/target-rules.js';
import { ChronodiskError } from '../errors.js';
import { applianceFacts, diskAndPartition } from './protect.js';

/** A device a person may pick to protect, with what already protects it and why it cannot be. */
export interface DeviceChoice {
  device: string;
  /** The disk name when this device is already protected. */
  protectedAs?: string;
  /** Why it cannot be protected (one line). */
  refusal?: string;
}

export interface DriveChoice extends Drive, DeviceChoice {
  partitionChoices: Array<DrivePartition & DeviceChoice>;
}

/**
 * The drive list of the "protect a disk" screen: every drive and partition (listDrives:
 * system and appliance found from what is mounted), each with the disk that already
 * protects it and the rule that refuses it — the same rules protectSource applies.
 */
export async function protectableDrives(app: Appliance): Promise<DriveChoice[]> {
  const appliance = applianceFacts(app.dir);
  const protectedBy = new Map<string, string>();
  for (const d of app.disks()) protectedBy.set(realOrSame(d.source), d.name);
  const out: DriveChoice[] = [];
  for (const drive of await listDrives({ applianceDir: app.dir })) {
    // A disk and its partitions share blocks: with one of them protected, the others are refused (as protectSource does).
    const wholeAs = protectedBy.get(realOrSame(drive.device));
    const protectedPart = drive.partitions.find((p) => protectedBy.has(realOrSame(p.device)));
    const partitionChoices = [];
    for (const p of drive.partitions) {
      const choice = await choiceOf(p.device, protectedBy, appliance);
      if (wholeAs !== undefined && !choice.refusal) choice.refusal = diskAndPartition(p.device, wholeAs, drive.device);
      partitionChoices.push({ ...p, ...choice });
    }
    const choice = await choiceOf(drive.device, protectedBy, appliance);
    if (protectedPart && !choice.refusal) choice.refusal = diskAndPartition(drive.device, protectedBy.get(realOrSame(protectedPart.device))!, protectedPart.device);
    out.push({ ...drive, ...choice, partitionChoices });
  }
  return out;
}

/**
 * The offered device a request names: a drive or partition of protectableDrives, never
 * any other path. Refuses one that is not offered, or offered with a refusal.
 */
export async function offeredDevice(app: Appliance, device: string): Promise<DeviceChoice> {
  for (const d of await protectableDrives(app)) {
    for (const c of [d, ...d.partitionChoices]) {
      if (c.device !== device) continue;
      if (c.refusal) throw new ChronodiskError('refused', c.refusal);
      return c;
    }
  }
  throw new ChronodiskError('not-found', `${device} is not a drive this machine offers; pick one from the drive list`);
}

async function choiceOf(device: string, protectedBy: Map<string, string>, appliance: ApplianceFacts): Promise<DeviceChoice> {
  const protectedAs = protectedBy.get(realOrSame(device));
  if (protectedAs !== undefined) return { device, protectedAs, refusal: `${device} is already protected as ${protectedAs}` };
  try {
    const info = await probeSource(device);
    const problems = checkProtectSource({ source: factsOf(info), appliance, readable: canRead(info.realPath) });
    return problems.length ? { device, refusal: problems[0]!.message } : { device };
  } catch (e) {
    return { device, refusal: e instanceof ChronodiskError ? e.message : `${device} cannot be probed: ${(e as Error).message}` };
  }
}

function canRead(path: string): boolean {
  try {
    accessSync(path, constants.R_OK);
    return true;
  } catch {
    return false;
  }
}

function realOrSame(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}
