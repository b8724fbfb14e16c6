/**
 * LAYOUT WORK ONLY, and skipped unless CHRONODISK_LAYOUT=1: screenshots of the window on the
 * fake service into /tmp/chronodisk-look/ for a person to look at. It checks nothing.
 */
import { it } from 'vitest';
import { mkdirSync } from 'node:fs';
import { startFakeService } from './fake-service.js';
import { launchChromium } from '../chromium.js';

it.skipIf(!process.env.CHRONODISK_LAYOUT)('screenshots', async () => {
  const svc = await startFakeService();
  const browser = await launchChromium();
  try {
    const page = await browser.context.newPage();
    page.on('console', (m) => console.log('console:', m.text()));
    await page.goto(svc.url);
    await page.getByRole('row', { name: 'notes.txt', exact: true }).waitFor();
    await page.waitForTimeout(500);
    mkdirSync('/tmp/chronodisk-look', { recursive: true });
    await page.screenshot({ path: '/tmp/chronodisk-look/main.png' });
    const slider = page.getByRole('slider', { name: 'Timeline' });
    await slider.focus();
    for (let i = 0; i < 3; i++) await page.keyboard.press('PageDown');
    await page.getByRole('checkbox', { name: 'Select notes.txt' }).check();
    await page.getByRole('button', { name: 'Versions' }).click();
    await page.getByText('Added').waitFor();
    await page.screenshot({ path: '/tmp/chronodisk-look/past.png' });
    await page.getByRole('button', { name: 'Restore disk…' }).click();
    await page.getByRole('button', { name: 'Next' }).click();
    await page.getByText('WD Elements').waitFor();
    await page.screenshot({ path: '/tmp/chronodisk-look/wizard.png' });
    await page.keyboard.press('Escape');
    await page.getByRole('button', { name: '+ Protect a drive…' }).click();
    await page.getByText('Samsung T7').waitFor();
    await page.screenshot({ path: '/tmp/chronodisk-look/protect.png' });
    await page.keyboard.press('Escape');
    await page.getByRole('button', { name: /^Jobs/ }).click();
    await page.screenshot({ path: '/tmp/chronodisk-look/jobs.png' });
    await page.getByRole('button', { name: 'Settings' }).click();
    await page.getByLabel('Scan interval (seconds)').waitFor();
    await page.screenshot({ path: '/tmp/chronodisk-look/settings.png' });
  } finally {
    await browser.close();
    await svc.close();
  }
});
