import type { Verb } from './verb.js';
import { ChronodiskError } from '../engine/errors.js';
import { applianceOptions, passphraseFor, readHidden, withAppliance, type ApplianceOptions } from './appliance-access.js';
import { printJson, printLine } from './output.js';
import { serviceIsWriter } from './running-service.js';
import { readFileSync } from 'node:fs';

export const passwdVerb: Verb = {
  name: 'passwd',
  summary: 'Change the passphrase of an encrypted appliance (rewrites only its header)',
  configure(cmd) {
    applianceOptions(cmd)
      .option('--new-key-file <file>', 'read the new passphrase from this file (else CHRONODISK_NEW_PASSPHRASE or a prompt)')
      .option('--json', 'print JSON')
      .action(async (opts: ApplianceOptions & { newKeyFile?: string; json?: boolean }) => {
        // Not sent to the service: it was started with the passphrase (its key file), which
        // must change with it, or the service would not open the appliance next time.
        if (serviceIsWriter(opts)) {
          throw new ChronodiskError('locked', "the running Chronodisk service is this appliance's writer: stop it (systemctl stop chronodisk), change the passphrase, put the new one in the key file the service starts with, then start it again");
        }
        await withAppliance(opts, { writable: true, command: 'chronodisk passwd' }, async (app) => {
          let next = opts.newKeyFile ? readFileSync(opts.newKeyFile, 'utf8').replace(/\r?\n$/, '') : await passphraseFor({}, 'New passphrase: ', 'CHRONODISK_NEW_PASSPHRASE');
          if (next === undefined) throw new ChronodiskError('usage', 'no new passphrase: set CHRONODISK_NEW_PASSPHRASE, pass --new-key-file, or run in a terminal');
          if (!opts.newKeyFile && process.env.CHRONODISK_NEW_PASSPHRASE === undefined && (await readHidden('Repeat it: ')) !== next) {
            next = undefined;
            throw new ChronodiskError('usage', 'the two passphrases differ; nothing was changed');
          }
          await app.changePassphrase(next);
        });
        if (opts.json) printJson({ changed: true });
        else printLine('Changed the passphrase.');
      });
  },
};
