/**
 * The SQLite index: a cache of what the segments say, rebuilt from them when lost.
 * docs/FORMAT.md describes each table; bump INDEX_VERSION when this changes (an index of
 * another version is rebuilt, never migrated: it is only a cache).
 */
export const INDEX_VERSION = 1;

export const schema = `
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS commits(
  seq INTEGER PRIMARY KEY, disk INTEGER NOT NULL, time_us INTEGER NOT NULL, flags INTEGER NOT NULL,
  label TEXT, batch_start INTEGER NOT NULL, bytes INTEGER NOT NULL,
  segment INTEGER NOT NULL, rec_offset INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS commits_by_time ON commits(disk, time_us, seq);
CREATE INDEX IF NOT EXISTS commits_by_disk ON commits(disk, seq);
CREATE TABLE IF NOT EXISTS writes(
  disk INTEGER NOT NULL, seq INTEGER NOT NULL, start INTEGER NOT NULL, end INTEGER NOT NULL,
  segment INTEGER NOT NULL, rec_offset INTEGER NOT NULL, PRIMARY KEY(disk, seq)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS writes_by_segment ON writes(segment);
CREATE TABLE IF NOT EXISTS staged(
  seq INTEGER PRIMARY KEY, disk INTEGER NOT NULL, start INTEGER NOT NULL, end INTEGER NOT NULL,
  segment INTEGER NOT NULL, rec_offset INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS live(
  id INTEGER PRIMARY KEY, disk INTEGER NOT NULL, start INTEGER NOT NULL, end INTEGER NOT NULL,
  from_seq INTEGER NOT NULL, segment INTEGER NOT NULL, rec_offset INTEGER NOT NULL, data_off INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS live_by_pos ON live(disk, start);
CREATE TABLE IF NOT EXISTS hist(
  disk INTEGER NOT NULL, node INTEGER NOT NULL, start INTEGER NOT NULL, end INTEGER NOT NULL,
  from_seq INTEGER NOT NULL, to_seq INTEGER NOT NULL, segment INTEGER NOT NULL,
  rec_offset INTEGER NOT NULL, data_off INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS hist_by_node ON hist(disk, node, start);
`;
