import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
// dist/electron/version.js and electron/version.ts both sit two levels below package.json.
export const version: string = (require('../../package.json') as { version: string }).version;
