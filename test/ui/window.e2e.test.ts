/**
 * The window end to end: real Chromium (playwright-core) on the page `chronodisk ui` serves,
 * over its WebSocket, against the real service on a real appliance that protects a real
 * ext4 image with two points whose files differ (built with the CLI). Restored bytes are
 * compared by sha256 with what was written at the point; the bookmark is read back with
 * `chronodisk timeline --json`; the whole-disk rollback is compared with the image as it
 * was, and the copy onto another loop device with the point. A loop device smaller than the
 * disk stands for a restore target the wizard must refuse.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { attachLoop, makeImage, tempDir, type Loop } from '../devices/loop-device.js';
import { breakIndexFile } from '../helpers/broken-index.js';
import { cliPath, runCliJson } from '../helpers/cli.js';
import { journals, sha256Of, waitFor } from '../restore/restore-fixtures.js';
import { launchChromium, chromiumPath, type Chromium } from './chromium.js';
import { buildTwoPointDisk, rebuildImage, sha256, writeTree, type TwoPointDisk } from './two-point-disk.js';
import { startUi, type UiService } from './ui-service.js';

const skipReason = !existsSync(chromiumPath) ? `no Chromium at ${chromiumPath}` : process.getuid?.() !== 0 ? 'the loop-device target needs root' : undefined;
if (skipReason) console.log(`skipping the window's end-to-end tests: ${skipReason}`);

describe.skipIf(skipReason !== undefined)('the window, in Chromium, on chronodisk ui', () => {
  const tmp = tempDir('chronodisk-ui-e2e-');
  let disk: TwoPointDisk;
  let ui: UiService;
  let browser: Chromium;
  let page: Page;
  let smallTarget: Loop | undefined;
  let resumeTarget: Loop | undefined;
  let copyTarget: Loop | undefined;
  const restored = join(tmp.dir, 'restored');
  // Screenshots to look at after a run (overwritten each time).
  const shots = process.env.CHRONODISK_UI_SHOTS ?? join(tmpdir(), 'chronodisk-ui-shots');
  const pageErrors: string[] = [];

  const slider = () => page.getByRole('slider', { name: 'Timeline' });
  const shownSeqTime = async () => Number(await slider().getAttribute('aria-valuenow'));
  const row = (name: string) => page.getByRole('row', { name, exact: true });

  /**
   * Runs `chronodisk restore` of point `seq` onto `target` (it reads beside the service's
   * writer) slowly, and SIGKILLs it once its journal shows bytes written.
   */
  async function interruptRestore(seq: number, target: string): Promise<void> {
    const child = spawn(process.execPath, [cliPath, 'restore', disk.disk, '--at', String(seq), '--to', target, '--yes', '--rate-limit', '1M', '-a', disk.app], { stdio: 'ignore' });
    try {
      await waitFor(() => journals(disk.app).some((j) => j.target === target && j.watermark > 0), 60_000, 'the interrupted journal');
    } finally {
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
    }
  }

  /**
   * Opens Jobs and asks to Resume or Discard the one interrupted restore (the list also
   * holds finished jobs), declines once (nothing changes), then confirms. Returns its row.
   */
  async function confirmOnInterrupted(action: 'Resume' | 'Discard') {
    await page.getByRole('button', { name: /^Jobs/ }).click();
    const ask = page.getByRole('button', { name: `${action}…` });
    const item = page.getByRole('region', { name: 'Jobs' }).getByRole('listitem').filter({ has: ask });
    await expect.poll(() => item.count()).toBe(1);
    await item.locator(ask).click();
    const confirm = page.getByRole('dialog', { name: `${action} the interrupted restore?` });
    await confirm.getByRole('button', { name: 'Not now' }).click();
    expect(journals(disk.app)).toHaveLength(1);
    await item.locator(ask).click();
    await confirm.getByRole('button', { name: `${action} restore` }).click();
    return item;
  }

  beforeAll(async () => {
    disk = buildTwoPointDisk(tmp.dir);
    mkdirSync(restored);
    mkdirSync(shots, { recursive: true });
    smallTarget = attachLoop(makeImage(join(tmp.dir, 'small-target.img'), 8 * 1024 * 1024));
    ui = await startUi(disk.app, join(tmp.dir, 'split'));
    browser = await launchChromium();
    page = await browser.context.newPage();
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await page.goto(ui.url);
  }, 300_000);

  afterAll(async () => {
    try {
      await browser?.close();
      await ui?.stop();
    } finally {
      smallTarget?.detach();
      resumeTarget?.detach();
      copyTarget?.detach();
      tmp.remove();
    }
  });

  it('lists the disk now, and the earlier point when the slider moves there (keys and drag)', async () => {
    await page.getByRole('button', { name: `Disk ${disk.disk}` }).click();
    await expect.poll(() => row('added-later.txt').count()).toBe(1);
    await expect.poll(() => slider().getAttribute('aria-valuetext')).toMatch(/^Now/);
    expect(await shownSeqTime()).toBe(disk.timeUs.p2);
    await page.screenshot({ path: join(shots, 'now.png') });

    // One point back with the keyboard.
    await slider().focus();
    await page.keyboard.press('ArrowDown');
    await expect.poll(shownSeqTime).toBe(disk.timeUs.p1);
    await expect.poll(() => row('added-later.txt').count()).toBe(0);
    await expect(row('notes.txt').getByRole('cell').nth(2).textContent()).resolves.toBe('1.17 KiB');
    // The thumb's label is drawn for the eye (aria-hidden); the slider says the same as its value text.
    const label = await page.locator('.slider-label').textContent();
    const hms = new Intl.DateTimeFormat('en-GB', { hour: '2-digit', minute: '2-digit', second: '2-digit', timeZone: 'UTC' }).format(disk.timeUs.p1 / 1000);
    expect(label).toContain(hms);
    expect(await slider().getAttribute('aria-valuetext')).toBe(label);
    expect(await page.getByText('As it was at').count()).toBe(1);

    // End returns to now; a drag to the bottom of the track resolves to the oldest point.
    await page.keyboard.press('End');
    await expect.poll(() => slider().getAttribute('aria-valuetext')).toMatch(/^Now/);
    await expect.poll(() => row('added-later.txt').count()).toBe(1);
    const box = (await slider().boundingBox())!;
    await page.mouse.move(box.x + box.width / 2, box.y + 2);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width / 2, box.y + box.height - 1, { steps: 8 });
    await page.mouse.up();
    await expect.poll(shownSeqTime).toBe(disk.timeUs.p1);
    await expect.poll(() => row('added-later.txt').count()).toBe(0);
  });

  it('shows the versions of a file and moves the timeline to one', async () => {
    await page.keyboard.press('End');
    await expect.poll(() => row('added-later.txt').count()).toBe(1);
    await page.getByRole('checkbox', { name: 'Select notes.txt' }).check();
    await page.getByRole('button', { name: 'Versions' }).click();
    const versions = page.getByRole('complementary', { name: 'Versions of notes.txt' });
    await expect.poll(() => versions.getByRole('listitem').count()).toBe(2);
    await versions.getByRole('button', { name: /Added/ }).click();
    await expect.poll(shownSeqTime).toBe(disk.timeUs.p1);
    await page.getByRole('button', { name: 'Close versions' }).click();
  });

  it('refuses a restore folder that does not exist, and keeps one that does', async () => {
    await page.getByRole('button', { name: 'Settings' }).click();
    await page.getByLabel('Folder to add').fill(join(tmp.dir, 'no-such-folder'));
    await page.getByRole('button', { name: 'Add folder' }).click();
    await page.getByRole('button', { name: 'Save settings' }).click();
    await expect.poll(() => page.getByRole('alert').filter({ hasText: 'no-such-folder' }).count()).toBe(1);
    await page.getByRole('button', { name: `Remove ${join(tmp.dir, 'no-such-folder')}` }).click();
    await page.getByLabel('Folder to add').fill(restored);
    await page.getByRole('button', { name: 'Add folder' }).click();
    await page.getByRole('button', { name: 'Save settings' }).click();
    await expect.poll(() => page.getByText('Settings saved.').count()).toBe(1);
    await page.getByRole('button', { name: `Disk ${disk.disk}` }).click();
    // The timeline kept its place while settings were shown.
    await expect.poll(shownSeqTime).toBe(disk.timeUs.p1);
  });

  it("restores files of the earlier point, byte for byte, and asks before replacing", async () => {
    await expect.poll(() => row('notes.txt').count()).toBe(1);
    await page.getByRole('checkbox', { name: 'Select notes.txt' }).check();
    await page.getByRole('checkbox', { name: 'Select photos' }).check();
    await page.getByRole('button', { name: 'Restore…' }).click();
    const dialog = page.getByRole('dialog', { name: 'Restore 2 items' });
    await dialog.getByRole('radio', { name: /restored/ }).check();
    await dialog.getByRole('button', { name: 'Restore', exact: true }).click();
    await expect.poll(() => dialog.getByText('Done').count(), { timeout: 60_000 }).toBe(1);
    expect(sha256(join(restored, 'notes.txt'))).toBe(sha256(join(disk.tree.p1, 'notes.txt')));
    expect(sha256(join(restored, 'photos', 'beach.raw'))).toBe(sha256(join(disk.tree.p1, 'photos', 'beach.raw')));
    expect(sha256(join(restored, 'photos', 'beach.raw'))).not.toBe(sha256(join(disk.tree.p2, 'photos', 'beach.raw')));
    await dialog.getByRole('button', { name: 'Close' }).last().click();

    // Again at now: the same name is there, so the window asks first. (The selection
    // stays across points, as in Time Machine.)
    await slider().focus();
    await page.keyboard.press('End');
    await expect.poll(() => row('added-later.txt').count()).toBe(1);
    expect(await page.getByRole('checkbox', { name: 'Select notes.txt' }).isChecked()).toBe(true);
    await page.getByRole('checkbox', { name: 'Select photos' }).uncheck();
    await page.getByRole('button', { name: 'Restore…' }).click();
    const again = page.getByRole('dialog', { name: 'Restore notes.txt' });
    await again.getByRole('radio', { name: /restored/ }).check();
    await again.getByRole('button', { name: 'Restore', exact: true }).click();
    await expect.poll(() => again.getByRole('button', { name: 'Replace' }).count(), { timeout: 60_000 }).toBe(1);
    expect(sha256(join(restored, 'notes.txt'))).toBe(sha256(join(disk.tree.p1, 'notes.txt')));
    await page.screenshot({ path: join(shots, 'replace.png') });
    await again.getByRole('button', { name: 'Replace' }).click();
    await expect.poll(() => again.getByText('Done').count(), { timeout: 60_000 }).toBe(1);
    expect(sha256(join(restored, 'notes.txt'))).toBe(sha256(join(disk.tree.p2, 'notes.txt')));
    await again.getByRole('button', { name: 'Close' }).last().click();
  });

  it('adds a bookmark that chronodisk timeline --json shows, and says in one line why a second one fails', async () => {
    await slider().focus();
    await page.keyboard.press('ArrowDown');
    await expect.poll(shownSeqTime).toBe(disk.timeUs.p1);
    for (let i = 0; i < 2; i++) {
      await page.getByRole('button', { name: '+ Bookmark' }).click();
      await page.getByLabel('Bookmark label').fill('before cleanup');
      await page.getByRole('button', { name: 'Add', exact: true }).click();
    }
    await expect.poll(() => page.getByRole('alert').filter({ hasText: 'already has a bookmark "before cleanup"' }).count()).toBe(1);
    await expect.poll(() => page.getByRole('button', { name: 'Bookmark before cleanup', exact: true }).count()).toBe(1);
    const tl = runCliJson<{ bookmarks: Array<{ seq: number; label: string }> }>(['timeline', '-a', disk.app, disk.disk]);
    expect(tl.bookmarks).toContainEqual(expect.objectContaining({ seq: disk.seq.p1, label: 'before cleanup' }));
    await page.keyboard.press('Escape');
  });

  it('restores the whole disk onto another disk: the target then holds the point, byte for byte, and the disk is untouched', async () => {
    const size = statSync(disk.imageAt.p1).size;
    copyTarget = attachLoop(makeImage(join(tmp.dir, 'copy-target.img'), size + 4 * 1024 * 1024));
    // Old data everywhere, so the zeros of the point must land too.
    spawnSync('dd', ['if=/dev/urandom', `of=${copyTarget.device}`, 'bs=1M', `count=${Math.ceil(size / 1048576) + 4}`, 'status=none']);
    await page.getByRole('button', { name: 'Bookmark before cleanup', exact: true }).click();
    await expect.poll(shownSeqTime).toBe(disk.timeUs.p1);
    await page.getByRole('button', { name: 'Restore disk…' }).click();
    const wizard = page.getByRole('dialog', { name: `Restore disk ${disk.disk}` });
    await wizard.getByRole('button', { name: 'Next' }).click();
    const target = wizard.getByRole('radio', { name: new RegExp(`${copyTarget.device}\\b`) });
    await expect.poll(() => target.count(), { timeout: 30_000 }).toBe(1);
    expect(await target.isDisabled()).toBe(false);
    await target.check();
    await wizard.getByRole('button', { name: 'Next' }).click();
    expect(await wizard.getByText(`Everything on ${copyTarget.device}`).count()).toBe(1);
    const go = wizard.getByRole('button', { name: 'Restore disk' });
    expect(await go.isDisabled()).toBe(true);
    await wizard.getByLabel(`Type ${disk.disk} to confirm`).fill(disk.disk);
    await go.click();
    await expect.poll(() => wizard.getByText('Done').count(), { timeout: 120_000 }).toBe(1);
    await expect.poll(() => wizard.locator('.job-result').textContent()).toMatch(/verified/);
    expect(sha256Of(copyTarget.device, size)).toBe(sha256(disk.imageAt.p1));
    expect(sha256(disk.image)).toBe(sha256(disk.imageAt.p2));
    expect(journals(disk.app)).toEqual([]);
    await wizard.getByRole('button', { name: 'Close' }).last().click();
  });

  it('restores the whole disk only onto a usable target, after the name is typed, and rolls back to the point', async () => {
    await page.getByRole('button', { name: 'Bookmark before cleanup', exact: true }).click();
    await expect.poll(shownSeqTime).toBe(disk.timeUs.p1);
    await page.getByRole('button', { name: 'Restore disk…' }).click();
    const wizard = page.getByRole('dialog', { name: `Restore disk ${disk.disk}` });
    await wizard.getByRole('button', { name: 'Next' }).click();
    const small = wizard.getByRole('radio', { name: new RegExp(smallTarget!.device) });
    await expect.poll(() => small.count(), { timeout: 30_000 }).toBe(1);
    expect(await small.isDisabled()).toBe(true);
    const reason = await small.getAttribute('aria-describedby');
    expect(await page.locator(`[id="${reason}"]`).textContent()).toMatch(/too small/);
    const inPlace = wizard.getByRole('radio', { name: /roll back only what changed/ });
    await inPlace.check();
    await page.screenshot({ path: join(shots, 'targets.png') });
    await wizard.getByRole('button', { name: 'Next' }).click();
    const go = wizard.getByRole('button', { name: 'Roll back disk' });
    const typed = wizard.getByLabel(`Type ${disk.disk} to confirm`);
    expect(await go.isDisabled()).toBe(true);
    await typed.fill(disk.disk.slice(0, -1));
    expect(await go.isDisabled()).toBe(true);
    await typed.fill(disk.disk.toUpperCase());
    expect(await go.isDisabled()).toBe(true);
    expect(sha256(disk.image)).toBe(sha256(disk.imageAt.p2));
    await typed.fill(disk.disk);
    await go.click();
    await expect.poll(() => wizard.getByText('Done').count(), { timeout: 120_000 }).toBe(1);
    await expect.poll(() => wizard.locator('.job-result').textContent()).toMatch(/Rolled .* back/);
    await page.screenshot({ path: join(shots, 'rolled-back.png') });
    expect(sha256(disk.image)).toBe(sha256(disk.imageAt.p1));
    await wizard.getByRole('button', { name: 'Close' }).last().click();
  });

  it('lists the jobs it ran, and pauses and resumes capture', async () => {
    await page.getByRole('button', { name: /^Jobs/ }).click();
    const jobs = page.getByRole('region', { name: 'Jobs' }).getByRole('listitem');
    await expect.poll(() => jobs.count()).toBeGreaterThanOrEqual(4);
    expect(await jobs.filter({ hasText: 'Done' }).count()).toBeGreaterThanOrEqual(3);
    expect(await jobs.filter({ hasText: 'already exist' }).count()).toBe(1);
    await page.getByRole('button', { name: 'Close jobs' }).click();

    await page.getByRole('button', { name: 'Pause capture' }).click();
    await expect.poll(() => page.getByText(/^Capture paused:/).count()).toBe(1);
    await page.getByRole('button', { name: 'Resume capture' }).click();
    await expect.poll(() => page.getByRole('button', { name: 'Pause capture' }).count()).toBe(1);
    expect(await page.getByText(/^Capture paused:/).count()).toBe(0);
  });

  it('finishes a restore interrupted outside the window, after a confirmation, onto its target', async () => {
    resumeTarget = attachLoop(makeImage(join(tmp.dir, 'resume-target.img'), 64 * 1024 * 1024));
    await interruptRestore(disk.seq.p1, resumeTarget.device);
    await confirmOnInterrupted('Resume');
    const done = page.getByRole('region', { name: 'Jobs' }).getByRole('listitem').filter({ hasText: /finishing an interrupted restore/ });
    await expect.poll(() => done.filter({ hasText: 'Done' }).count(), { timeout: 120_000 }).toBe(1);
    expect(journals(disk.app)).toEqual([]);
    expect(sha256Of(resumeTarget.device, statSync(disk.imageAt.p1).size)).toBe(sha256(disk.imageAt.p1));
    await page.getByRole('button', { name: 'Close jobs' }).click();
  });

  it('discards a restore interrupted outside the window, after a confirmation, and leaves its target as it was', async () => {
    await interruptRestore(disk.seq.p2, resumeTarget!.device);
    const before = sha256Of(resumeTarget!.device, statSync(disk.imageAt.p1).size);
    const item = await confirmOnInterrupted('Discard');
    await expect.poll(() => item.count()).toBe(0);
    expect(journals(disk.app)).toEqual([]);
    expect(sha256Of(resumeTarget!.device, statSync(disk.imageAt.p1).size)).toBe(before);
    await page.getByRole('button', { name: 'Close jobs' }).click();
  });

  it('captures a change on request and shows the new point in the present', async () => {
    writeTree(join(tmp.dir, 'tree-p3'), 2);
    writeFileSync(join(tmp.dir, 'tree-p3', 'captured-from-window.txt'), 'made after the rollback\n');
    rebuildImage(disk, join(tmp.dir, 'tree-p3'));
    const before = runCliJson<{ count: number }>(['timeline', '-a', disk.app, disk.disk]).count;
    await slider().focus();
    await page.keyboard.press('End');
    await page.getByRole('button', { name: 'Capture now' }).click();
    await expect.poll(() => row('captured-from-window.txt').count(), { timeout: 60_000 }).toBe(1);
    await expect.poll(() => page.getByText(`${before + 1} points`).count()).toBe(1);
    const newest = runCliJson<{ points: Array<{ seq: number }> }>(['timeline', '-a', disk.app, disk.disk]).points.at(-1)!;
    expect(newest.seq).toBeGreaterThan(disk.seq.p2);
  });

  it('protects a drive: refused drives are greyed with their reason, a chosen one is named and listed', async () => {
    // Paused, so that the new disk has no point yet while the window shows it.
    await page.getByRole('button', { name: 'Pause capture' }).click();
    await expect.poll(() => page.getByText(/^Capture paused:/).count()).toBe(1);
    await page.getByRole('button', { name: '+ Protect a drive…' }).click();
    const dialog = page.getByRole('dialog', { name: 'Protect a drive' });
    const loop = dialog.getByRole('radio', { name: new RegExp(smallTarget!.device) });
    await expect.poll(() => loop.count(), { timeout: 30_000 }).toBe(1);
    const refused = dialog.locator('input[type=radio]:disabled');
    expect(await refused.count()).toBeGreaterThanOrEqual(1);
    const reasonId = await refused.first().getAttribute('aria-describedby');
    expect((await page.locator(`[id="${reasonId}"]`).textContent())?.length).toBeGreaterThan(0);
    await loop.check();
    const name = dialog.getByLabel('Name');
    expect(await name.inputValue()).toBe(smallTarget!.device.replace('/dev/', ''));
    await name.fill('bad:name');
    await dialog.getByRole('button', { name: 'Protect', exact: true }).click();
    await expect.poll(() => dialog.getByRole('alert').textContent()).toMatch(/may not contain/);
    await name.fill('spare');
    await dialog.getByLabel('Capture mode').selectOption('scan');
    await dialog.getByRole('button', { name: 'Protect', exact: true }).click();
    await expect.poll(() => page.getByRole('button', { name: 'Disk spare' }).count(), { timeout: 30_000 }).toBe(1);
    // Selected before its first point: the window says so, and no request fails as a toast.
    await expect.poll(() => page.getByText('No points yet: the first capture of spare has not finished.').count()).toBe(1);
    await page.waitForTimeout(1500); // what the window asks for when a disk is selected has had time to answer
    expect(await page.getByRole('alert').filter({ hasText: 'no points yet' }).count()).toBe(0);
    // Its first point, once capture resumes, opens it (the loop device holds no filesystem).
    await page.getByRole('button', { name: 'Resume capture' }).click();
    await expect.poll(() => page.getByText(/holds no filesystem Chronodisk can read/).count(), { timeout: 30_000 }).toBe(1);
    const disks = runCliJson<Array<{ name: string; source: string }>>(['disks', '-a', disk.app]);
    expect(disks).toContainEqual(expect.objectContaining({ name: 'spare', source: smallTarget!.device }));
  });

  it('verifies the appliance from Settings: a job in the jobs list that finds no damage', async () => {
    await page.getByRole('button', { name: 'Settings' }).click();
    await page.getByRole('button', { name: 'Verify the appliance' }).click();
    const job = page.getByRole('region', { name: 'Jobs' }).getByRole('listitem', { name: 'Verify the appliance (every checksum)' });
    await expect.poll(() => job.filter({ hasText: /No damage found: \d+ segments?/ }).count(), { timeout: 60_000 }).toBe(1);
    await page.getByRole('button', { name: 'Close jobs' }).click();
    await page.getByRole('button', { name: 'Disk spare' }).click();
  });

  it('offers to rebuild the index when a read finds it does not match the segments, and then reads again', async () => {
    // Another connection to the service's index breaks every extent, as a bug might.
    breakIndexFile(disk.app);
    // A change captured on request: showing it needs reads through the broken index.
    writeTree(join(tmp.dir, 'tree-p4'), 2);
    writeFileSync(join(tmp.dir, 'tree-p4', 'after-the-index-broke.txt'), 'captured while the index was broken\n');
    rebuildImage(disk, join(tmp.dir, 'tree-p4'));
    await page.getByRole('button', { name: `Disk ${disk.disk}` }).click();
    await slider().focus();
    await page.keyboard.press('End');
    await page.getByRole('button', { name: 'Capture now' }).click();
    // The error says what is wrong; what to do is a button, not a command to type.
    const offer = page.getByRole('alert').filter({ hasText: /the index does not match segment \d+/ });
    await expect.poll(() => offer.count(), { timeout: 60_000 }).toBeGreaterThan(0);
    expect(await page.getByRole('alert').filter({ hasText: 'chronodisk rebuild-index' }).count()).toBe(0);
    await offer.first().getByRole('button', { name: 'Rebuild the index' }).click();
    const job = page.getByRole('region', { name: 'Jobs' }).getByRole('listitem', { name: 'Rebuild the index' });
    await expect.poll(() => job.filter({ hasText: /Index rebuilt from the segments: \d+ commits/ }).count(), { timeout: 60_000 }).toBe(1);
    await page.getByRole('button', { name: 'Close jobs' }).click();
    await page.getByRole('button', { name: 'Capture now' }).click();
    await expect.poll(() => row('after-the-index-broke.txt').count(), { timeout: 60_000 }).toBe(1);
  });

  it('says it is not connected when the service is gone, above an open dialog', async () => {
    // A modal dialog sits in the browser's top layer, above every z-index: the notice must
    // still be what the pointer reaches, not something dimmed behind the dialog's backdrop.
    await page.getByRole('button', { name: '+ Protect a drive…' }).click();
    await expect.poll(() => page.getByRole('dialog', { name: 'Protect a drive' }).count()).toBe(1);
    await ui.stop();
    const gone = page.getByRole('alertdialog', { name: 'Not connected to the Chronodisk service' });
    await expect.poll(() => gone.count(), { timeout: 30_000 }).toBe(1);
    const onTop = await gone.evaluate((el) => {
      const r = el.querySelector('h1')!.getBoundingClientRect();
      return el.contains(document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2));
    });
    expect(onTop).toBe(true);
    await page.screenshot({ path: join(shots, 'gone.png') });
    expect(pageErrors).toEqual([]);
  });
});
