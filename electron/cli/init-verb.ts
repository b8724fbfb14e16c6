import type { Verb } from './verb.js';
import { Appliance } from '../engine/appliance.js';
import { ChronodiskError } from '../engine/errors.js';
import { passphraseFor, readHidden, suggestedCommand } from './appliance-access.js';
import { printJson, printLine } from './output.js';

export const initVerb: Verb = {
  name: 'init',
  summary: 'Create an appliance in an empty directory',
  configure(cmd) {
    cmd
      .argument('<dir>', 'a new or empty directory, normally on the external drive')
      .option('--encrypt', 'encrypt it (passphrase from CHRONODISK_PASSPHRASE, --key-file, or a prompt)')
      .option('--key-file <file>', 'read the passphrase from this file')
      .option('--json', 'print JSON')
      .action(async (dir: string, opts: { encrypt?: boolean; keyFile?: string; json?: boolean }) => {
        let passphrase: string | undefined;
        if (opts.encrypt) {
          passphrase = await passphraseFor(opts, 'New passphrase: ');
          if (passphrase === undefined) throw new ChronodiskError('usage', '--encrypt needs a passphrase: set CHRONODISK_PASSPHRASE, pass --key-file, or run in a terminal');
          if (!opts.keyFile && process.env.CHRONODISK_PASSPHRASE === undefined && (await readHidden('Repeat it: ')) !== passphrase) {
            throw new ChronodiskError('usage', 'the two passphrases differ; nothing was created');
          }
        }
        const h = await Appliance.init(dir, { passphrase });
        if (opts.json) printJson({ appliance: dir, id: h.id, encrypted: h.encryption !== null, version: h.version });
        else printLine(`Created ${h.encryption ? 'an encrypted' : 'an'} appliance in ${dir} (id ${h.id}). Protect a disk with ${suggestedCommand({ appliance: dir }, 'protect SOURCE')}.`);
      });
  },
};
