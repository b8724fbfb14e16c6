import type { Verb } from './verb.js';
import { versionVerb } from './version-verb.js';

/** Every verb of the `chronodisk` command, in the order --help lists them. */
export const verbs: Verb[] = [versionVerb];
