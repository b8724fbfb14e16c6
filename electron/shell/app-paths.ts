/**
 * Where the shell's files are, built or packaged: dist/ beside package.json (inside
 * app.asar when packaged). Under vitest the shell runs from its TypeScript sources, and
 * the built files are still the ones in dist/.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** The folder that holds package.json, dist/ and resources/ (app.asar when packaged). */
export function appRoot(moduleUrl: string = import.meta.url): string {
  // This file is electron/shell/app-paths.ts, or dist/electron/shell/app-paths.js.
  const shellDir = dirname(fileURLToPath(moduleUrl));
  const up = moduleUrl.endsWith('.ts') ? 2 : 3;
  let root = shellDir;
  for (let i = 0; i < up; i++) root = dirname(root);
  return root;
}

export interface ShellPaths {
  /** dist/renderer/index.html, built by `npm run build:renderer`. */
  rendererIndex: string;
  /** Its file: URL, the only page allowed to talk to the bridge. */
  rendererUrl: string;
  /** The folder the window may load files from. */
  rendererDir: string;
  /** dist/electron/preload.cjs */
  preload: string;
  /** resources/icons/ */
  icons: string;
}

export function shellPaths(root: string = appRoot()): ShellPaths {
  const rendererDir = join(root, 'dist', 'renderer');
  const rendererIndex = join(rendererDir, 'index.html');
  return {
    rendererIndex,
    rendererUrl: pathToFileURL(rendererIndex).href,
    rendererDir,
    preload: join(root, 'dist', 'electron', 'preload.cjs'),
    icons: join(root, 'resources', 'icons'),
  };
}
