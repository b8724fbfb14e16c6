import type { Verb } from './verb.js';
import { printJson, printLine } from './output.js';
import { version } from '../version.js';

export const versionVerb: Verb = {
  name: 'about',
  summary: 'Print the version and the runtime it runs on',
  configure(cmd) {
    cmd.option('--json', 'print JSON').action((opts: { json?: boolean }) => {
      const info = { version, node: process.versions.node, platform: process.platform, arch: process.arch };
      if (opts.json) printJson(info);
      else printLine(`chronodisk ${info.version} (node ${info.node}, ${info.platform}-${info.arch})`);
    });
  },
};
