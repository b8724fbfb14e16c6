/** Partitions as readPartitionTable reports them, and short names for the partition types people meet. */

/** One partition (or the whole disk, number 0, when it has no partition table). */
export interface Volume {
  /** As Linux numbers them: GPT by entry slot from 1, MBR primaries 1-4, logicals from 5. */
  number: number;
  table: 'gpt' | 'mbr' | 'none';
  /** 'linux', 'efi', 'fat32', … or the GPT type GUID / MBR type code when it has no short name. */
  type: string;
  /** The raw GPT type GUID or MBR type code ('0x83'). */
  typeCode?: string;
  /** GPT unique partition GUID. */
  uuid?: string;
  /** GPT partition name. */
  label?: string;
  offset: number;
  size: number;
}


const gptNames: Record<string, string> = {
  'c12a7328-f81f-11d2-ba4b-00a0c93ec93b': 'efi',
  '21686148-6449-6e6f-744e-656564454649': 'bios-boot',
  '0fc63daf-8483-4772-8e79-3d69d8477de4': 'linux',
  '4f68bce3-e8cd-4db1-96e7-fbcaf984b709': 'linux-root-x86-64',
  '44479540-f297-41b2-9af7-d131d5f0458a': 'linux-root-x86',
  'b921b045-1df0-41c3-af44-4c6f280d3fae': 'linux-root-arm64',
  '933ac7e1-2eb4-4f13-b844-0e14e2aef915': 'linux-home',
  'bc13c2ff-59e6-4262-a352-b275fd6f7172': 'linux-boot',
  '0657fd6d-a4ab-43c4-84e5-0933c84b4f4f': 'linux-swap',
  'e6d6d379-f507-44c2-a23c-238f2a3df928': 'linux-lvm',
  'a19d880f-05fc-4d3b-a006-743f0f84911e': 'linux-raid',
  'ca7d7ccb-63ed-4c53-861c-1742536059cc': 'linux-luks',
  'ebd0a0a2-b9e5-4433-87c0-68b6b72699c7': 'microsoft-basic-data',
  'e3c9e316-0b5c-4db8-817d-f92df00215ae': 'microsoft-reserved',
  'de94bba4-06d1-4d40-a16a-bfd50179d6ac': 'windows-recovery',
  '7c3457ef-0000-11aa-aa11-00306543ecac': 'apfs',
  '48465300-0000-11aa-aa11-00306543ecac': 'hfs+',
  '6a898cc3-1dd2-11b2-99a6-080020736631': 'zfs',
};

const mbrNames: Record<number, string> = {
  0x01: 'fat12',
  0x04: 'fat16',
  0x05: 'extended',
  0x06: 'fat16',
  0x07: 'ntfs',
  0x0b: 'fat32',
  0x0c: 'fat32',
  0x0e: 'fat16',
  0x0f: 'extended',
  0x82: 'linux-swap',
  0x83: 'linux',
  0x85: 'extended',
  0x8e: 'linux-lvm',
  0xa5: 'freebsd',
  0xaf: 'hfs+',
  0xee: 'gpt-protective',
  0xef: 'efi',
  0xfd: 'linux-raid',
};

export const isExtendedType = (code: number) => code === 0x05 || code === 0x0f || code === 0x85;

export function gptTypeName(guid: string): string {
  return gptNames[guid] ?? guid;
}

export function mbrTypeName(code: number): string {
  return mbrNames[code] ?? `0x${code.toString(16).padStart(2, '0')}`;
}
