/**
 * The SQLite index: a cache of what the segments say, rebuilt from them when lost.
 * docs/FORMAT.md describes each table; bump INDEX_VERSION when this changes (an index of
 * another version is rebuilt, never migrated: it is only a cache).
 *
 * Version 2: a time-map lookup scans a few rows of `live` and of each `hist` node; both are
 * now read from one b-tree without a row fetch each (live's position index covers the
 * columns, hist is clustered on its lookup key), which cut a lookup in a deep history ~3×.
 * Version 3: `lost`, the segments that hold records of a batch that never committed.
 */
export const INDEX_VERSION = 3;

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
CREATE TABLE IF NOT EXISTS lost(segment INTEGER NOT NULL, disk INTEGER NOT NULL, PRIMARY KEY(segment, disk)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS live(
  id INTEGER PRIMARY KEY, disk INTEGER NOT NULL, start INTEGER NOT NULL, end INTEGER NOT NULL,
  from_seq INTEGER NOT NULL, segment INTEGER NOT NULL, rec_offset INTEGER NOT NULL, data_off INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS live_by_pos ON live(disk, start, end, from_seq, segment, rec_offset, data_off);
CREATE TABLE IF NOT EXISTS hist(
  disk INTEGER NOT NULL, node INTEGER NOT NULL, start INTEGER NOT NULL, end INTEGER NOT NULL,
  from_seq INTEGER NOT NULL, to_seq INTEGER NOT NULL, segment INTEGER NOT NULL,
  rec_offset INTEGER NOT NULL, data_off INTEGER NOT NULL,
  PRIMARY KEY(disk, node, start, from_seq)) WITHOUT ROWID;
`;
