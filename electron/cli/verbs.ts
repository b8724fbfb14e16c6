import type { Verb } from './verb.js';
import { captureVerb } from './capture-verb.js';
import { checkVerb } from './check-verb.js';
import { protectVerb, unprotectVerb } from './protect-verb.js';
import { pruneVerb } from './prune-verb.js';
import { retentionVerb } from './retention-verb.js';
import { diffVerb } from './diff-verb.js';
import { disksVerb } from './disks-verb.js';
import { imageVerb } from './image-verb.js';
import { initVerb } from './init-verb.js';
import { markVerb, unmarkVerb } from './mark-verb.js';
import { passwdVerb } from './passwd-verb.js';
import { rebuildIndexVerb } from './rebuild-index-verb.js';
import { resolveVerb } from './resolve-verb.js';
import { restoreVerb } from './restore-verb.js';
import { jobsVerb } from './jobs-verb.js';
import { runVerb } from './run-verb.js';
import { serveVerb } from './serve-verb.js';
import { serviceVerb } from './service-verb.js';
import { uiVerb } from './ui-verb.js';
import { splitVerb } from './split-verb.js';
import { timelineVerb } from './timeline-verb.js';
import { versionVerb } from './version-verb.js';
import { catVerb, lsVerb, restoreFilesVerb, versionsVerb } from './file-verbs.js';

/** Every verb of the `chronodisk` command, in the order --help lists them. */
export const verbs: Verb[] = [
  initVerb,
  disksVerb,
  protectVerb,
  unprotectVerb,
  captureVerb,
  runVerb,
  serviceVerb,
  uiVerb,
  splitVerb,
  serveVerb,
  timelineVerb,
  resolveVerb,
  markVerb,
  unmarkVerb,
  imageVerb,
  diffVerb,
  lsVerb, catVerb, restoreFilesVerb, versionsVerb,
  restoreVerb,
  jobsVerb,
  checkVerb,
  retentionVerb,
  pruneVerb,
  rebuildIndexVerb,
  passwdVerb,
  versionVerb,
];
