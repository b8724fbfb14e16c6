/**
 * The time-image export in one call: name some BlockSources (time images at resolved
 * points), serve them read-only — or each under a throwaway per-connection overlay — on a
 * unix socket or loopback port. What `chronodisk serve` needs from this folder.
 */
import type { BlockSource } from '../block-source.js';
import { usageError } from '../errors.js';
import { ExportTable, type ExportProvider } from './export.js';
import { withOverlay } from './overlay-export.js';
import { NbdServer, type ListenAddress, type Listening } from './server.js';
import { SourceExport } from './source-export.js';

export interface ServedImage {
  /** The export name, e.g. "sda@1234". */
  name: string;
  /** Shown by `nbdinfo --list`, e.g. the resolved point and its time. */
  description: string;
  source: BlockSource;
}

export interface ServeOptions {
  /** A throwaway write overlay per connection (a VM can boot the image). */
  overlay?: boolean;
  /** Where overlays keep their data (default: the OS temp dir). */
  overlayDir?: string;
  /** What the default export name "" opens (default: the first image). */
  defaultName?: string;
  onError?: (e: unknown) => void;
}

export async function serveImages(images: ServedImage[], address: ListenAddress, options: ServeOptions = {}): Promise<{ server: NbdServer; listening: Listening }> {
  checkExportNames(images);
  const server = new NbdServer({ provider: imageExports(images, options), onError: options.onError });
  try {
    return { server, listening: await server.listen(address) };
  } catch (e) {
    await server.close();
    throw e;
  }
}

/** Refuses an empty list and a name given twice (before anything listens). */
export function checkExportNames(images: Array<{ name: string }>): void {
  if (images.length === 0) throw usageError('nothing to serve: name at least one DISK@POINT');
  const names = new Set<string>();
  for (const i of images) {
    if (names.has(i.name)) throw usageError(`export name ${i.name} is given twice; name each DISK@POINT once`);
    names.add(i.name);
  }
}

/** The exports of `images`: read-only, or each under a throwaway overlay per connection. */
export function imageExports(images: ServedImage[], options: Pick<ServeOptions, 'overlay' | 'overlayDir' | 'defaultName'>): ExportProvider {
  const table = new ExportTable(
    images.map((i) => ({ name: i.name, description: i.description, open: () => new SourceExport(i.source) })),
    options.defaultName ?? images[0]!.name,
  );
  return options.overlay ? withOverlay(table, options.overlayDir) : table;
}
