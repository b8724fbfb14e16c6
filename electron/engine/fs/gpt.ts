import { crc32 } from 'node:zlib';
import type { BlockSource } from '../block-source.js';
import { damaged } from '../errors.js';
import { gptTypeName } from './partition-types.js';
import type { Volume } from './partition-types.js';

const MAX_ENTRIES = 4096;

/** The sector size at which a GPT header ("EFI PART" at LBA 1) is found, if any. */
export async function findGptSectorSize(src: BlockSource): Promise<number | undefined> {
  for (const ss of [512, 4096]) {
    if (src.size < ss * 3) continue;
    if ((await src.read(ss, 8)).toString('latin1') === 'EFI PART') return ss;
  }
  return undefined;
}

/** Reads the primary GPT, falling back to the backup at the disk's last sector when it fails its CRCs. */
export async function readGpt(src: BlockSource, ss: number): Promise<Volume[]> {
  const lastLba = Math.floor(src.size / ss) - 1;
  let primaryError: string | undefined;
  for (const lba of [1, lastLba]) {
    const why = await tryTable(src, ss, lba);
    if (typeof why !== 'string') return why;
    primaryError ??= why;
  }
  throw damaged(`GPT: the primary table ${primaryError}, and the backup at the last sector is unusable too`);
}

async function tryTable(src: BlockSource, ss: number, lba: number): Promise<Volume[] | string> {
  const header = await src.read(lba * ss, ss);
  if (header.toString('latin1', 0, 8) !== 'EFI PART') return `has no "EFI PART" signature at LBA ${lba}`;
  const headerSize = header.readUInt32LE(12);
  if (headerSize < 92 || headerSize > ss) return `header size ${headerSize} is impossible`;
  const copy = Buffer.from(header.subarray(0, headerSize));
  copy.writeUInt32LE(0, 16);
  if (crc32(copy) !== header.readUInt32LE(16)) return `header at LBA ${lba} fails its CRC32`;
  const entriesLba = Number(header.readBigUInt64LE(72));
  const count = header.readUInt32LE(80);
  const entrySize = header.readUInt32LE(84);
  if (count > MAX_ENTRIES || entrySize < 128 || entrySize > 4096 || entrySize % 8 !== 0) return `${count} entries of ${entrySize} bytes are impossible`;
  const bytes = count * entrySize;
  if (!Number.isSafeInteger(entriesLba * ss) || entriesLba * ss + bytes > src.size || entriesLba === lba) return `entry array at LBA ${entriesLba} lies outside the disk`;
  const table = await src.read(entriesLba * ss, bytes);
  if (crc32(table) !== header.readUInt32LE(88)) return `entry array at LBA ${entriesLba} fails its CRC32`;
  const volumes: Volume[] = [];
  for (let i = 0; i < count; i++) {
    const e = table.subarray(i * entrySize, (i + 1) * entrySize);
    const type = guid(e, 0);
    if (type === '00000000-0000-0000-0000-000000000000') continue;
    const first = Number(e.readBigUInt64LE(32));
    const last = Number(e.readBigUInt64LE(40));
    if (last < first || !Number.isSafeInteger((last + 1) * ss)) return `entry ${i + 1} runs from LBA ${first} to ${last}`;
    const offset = first * ss;
    const size = Math.max(0, Math.min((last - first + 1) * ss, src.size - offset));
    const nameRaw = e.toString('utf16le', 56, 128);
    const nul = nameRaw.indexOf('\0');
    const label = nul < 0 ? nameRaw : nameRaw.slice(0, nul);
    volumes.push({ number: i + 1, table: 'gpt', type: gptTypeName(type), typeCode: type, uuid: guid(e, 16), label: label || undefined, offset, size });
  }
  return volumes;
}

/** A GUID as text: the first three fields are little-endian on disk. */
function guid(b: Buffer, at: number): string {
  const h = (from: number, to: number) => b.subarray(at + from, at + to).toString('hex');
  const le = (from: number, to: number) => Buffer.from(b.subarray(at + from, at + to)).reverse().toString('hex');
  return `${le(0, 4)}-${le(4, 6)}-${le(6, 8)}-${h(8, 10)}-${h(10, 16)}`;
}
