import Database from 'better-sqlite3';
import { join } from 'node:path';

/**
 * Points every extent of the time map past the end of its record, as a bug or a bad block
 * in the index might: reads must then fail ('the index does not match …'), never return
 * wrong bytes, until the index is rebuilt from the segments.
 */
export const BREAK_EXTENTS_SQL = 'UPDATE live SET data_off = data_off + 1000000000; UPDATE hist SET data_off = data_off + 1000000000';

/** Breaks the index file of the appliance at `dir` through a connection of its own, beside whatever process has it open. */
export function breakIndexFile(dir: string): void {
  const db = new Database(join(dir, 'index.sqlite'));
  try {
    db.pragma('busy_timeout = 5000');
    db.exec(BREAK_EXTENTS_SQL);
  } finally {
    db.close();
  }
}
