import { afterAll, describe, expect, it } from 'vitest';
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ChronodiskError, fromStrayFsError } from '../../electron/engine/errors.js';
import { errorInfoOf } from '../../electron/service/error-wire.js';
import { fillDrive, mountTmpfs, unmount } from '../devices/loop-device.js';

/**
 * An errno error that no verb mapped still reaches the person as one of ours: the CLI's
 * top level and the service's wire both pass it through fromStrayFsError. The errors here
 * are real ones, from real calls on a real (tmpfs) drive.
 */

const root = mkdtempSync(join(tmpdir(), 'chronodisk-stray-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function failure(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  throw new Error('expected a failure');
}

describe('errno errors that reach the top unmapped', () => {
  it('name the path when the error has one', () => {
    const missing = join(root, 'no-such-file');
    const e = fromStrayFsError(failure(() => openSync(missing, 'r')), 'a file it needed');
    expect(e).toBeInstanceOf(ChronodiskError);
    expect({ code: e!.code, message: e!.message }).toEqual({
      code: 'not-found',
      message: `${missing} does not exist (ENOENT: no such file or directory, open '${missing}')`,
    });
  });

  it('name the fallback for a write on a descriptor, and keep the code on the service wire', () => {
    const drive = join(root, 'drive');
    mountTmpfs(drive, '1m');
    try {
      fillDrive(drive);
      const fd = openSync(join(drive, 'filler'), 'a');
      const raw = failure(() => writeSync(fd, Buffer.alloc(4096, 1)));
      closeSync(fd);
      expect((raw as NodeJS.ErrnoException).code).toBe('ENOSPC');
      expect(fromStrayFsError(raw, 'a file it needed')?.message).toBe('a file it needed: no space left on the device (ENOSPC: no space left on device, write)');
      expect(errorInfoOf(raw)).toEqual({ code: 'no-space', message: 'a file the service needed: no space left on the device (ENOSPC: no space left on device, write)' });
    } finally {
      unmount(drive);
    }
  });

  it('leave our own errors, and errors that are not errno errors, alone', () => {
    expect(fromStrayFsError(new ChronodiskError('exists', 'x is not empty'), 'f')).toBeUndefined();
    expect(fromStrayFsError(new TypeError('not a buffer'), 'f')).toBeUndefined();
    expect(fromStrayFsError(Object.assign(new Error('odd'), { code: 'EXDEV' }), 'f')).toBeUndefined();
  });
});
