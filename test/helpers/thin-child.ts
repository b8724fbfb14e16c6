/**
 * The child process of the retention crash test: opens the appliance as its writer, plans a
 * thinning that keeps exactly the points listed in KEEP_JSON (per disk name; a disk not
 * listed follows its policy), prints `ready N` (N points to remove), runs the thinning with
 * a `p DONE TOTAL` line as it takes up each commit (so the parent can aim its kill at a
 * share of the work; after the last one come the seal, the manifest record, the deletes and
 * the index rebuild), and `done MS BYTES_REWRITTEN` at the end — unless it is SIGKILLed
 * first, which is the point.
 *
 * Usage: node thin-child.js DIR KEEP_JSON
 *   env CHRONODISK_PASSPHRASE: for an encrypted appliance
 *   env CHRONODISK_THIN_SEGMENT_SIZE: segment target size (small: many rotations to cut)
 */
import { readFileSync } from 'node:fs';
import { Appliance } from '../../electron/engine/appliance.js';
import { executeThinning, planThinning } from '../../electron/engine/retention/thin.js';

async function main(): Promise<void> {
  const [dir, keepFile] = process.argv.slice(2);
  if (!dir || !keepFile) throw new Error('usage: thin-child DIR KEEP_JSON');
  const keep = JSON.parse(readFileSync(keepFile, 'utf8')) as Record<string, number[]>;
  const segmentTargetSize = Number(process.env.CHRONODISK_THIN_SEGMENT_SIZE) || undefined;
  const app = await Appliance.open(dir, { writable: true, command: 'thin-child', passphrase: process.env.CHRONODISK_PASSPHRASE, segmentTargetSize });
  const plan = planThinning(app, Date.now() * 1000, (d) => (keep[d.name] ? new Set(keep[d.name]) : undefined));
  process.stdout.write(`ready ${plan.removedPoints}\n`);
  const t0 = performance.now();
  const r = await executeThinning(app, plan, (p) => void process.stdout.write(`p ${p.done} ${p.total}\n`));
  process.stdout.write(`done ${Math.round(performance.now() - t0)} ${r.bytesRewritten}\n`);
  app.close();
}

main().catch((e: unknown) => {
  process.stderr.write(`thin-child: ${(e as Error)?.stack ?? String(e)}\n`);
  process.exit(3);
});
