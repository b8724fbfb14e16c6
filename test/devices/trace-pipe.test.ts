import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { TracePipeReader } from '../../electron/engine/devices/trace-pipe.js';
import { tempDir } from './loop-device.js';

describe('TracePipeReader', () => {
  const tmp = tempDir();
  afterAll(() => tmp.remove());

  it('hands over whole lines whatever the chunk boundaries', async () => {
    const lines = Array.from({ length: 2000 }, (_, i) => `line ${i} ${'x'.repeat(i % 97)}`);
    const file = join(tmp.dir, 'pipe.txt');
    writeFileSync(file, lines.join('\n') + '\n');
    for (const chunkSize of [1, 7, 4096, 1 << 20]) {
      const got: string[] = [];
      const errors: Error[] = [];
      // A regular file stands in for trace_pipe: reads return data, then 0 at the end.
      const reader = new TracePipeReader(file, { chunkSize, pollMs: 600_000, onLines: (l) => got.push(...l), onError: (e) => errors.push(e) });
      await reader.drain();
      await reader.close();
      expect(errors).toEqual([]);
      expect(got).toEqual(lines);
    }
  });

  it('keeps an unfinished last line until its end arrives', async () => {
    const file = join(tmp.dir, 'partial.txt');
    writeFileSync(file, 'first\nsecond-half');
    const got: string[] = [];
    const reader = new TracePipeReader(file, { pollMs: 600_000, onLines: (l) => got.push(...l), onError: (e) => { throw e; } });
    await reader.drain();
    expect(got).toEqual(['first']);
    await reader.close();
  });

  it('reports a missing pipe as not-found', () => {
    expect(() => new TracePipeReader(join(tmp.dir, 'nope'), { onLines: () => undefined, onError: () => undefined })).toThrow(/does not exist/);
  });
});
