// The file verbs, re-exported together so the verb table names them in one line.
export { catVerb } from './cat-verb.js';
export { lsVerb } from './ls-verb.js';
export { restoreFilesVerb } from './restore-files-verb.js';
export { versionsVerb } from './versions-verb.js';
