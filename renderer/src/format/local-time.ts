/**
 * Times as a person at this machine reads them, in its locale and zone (the contract carries
 * µs since the epoch, UTC). ISO text for machines lives in shared/time.ts.
 */

const timeWithSeconds = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' });
const dayInYear = new Intl.DateTimeFormat(undefined, { weekday: 'short', day: 'numeric', month: 'short' });
const fullDate = new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'short', year: 'numeric' });
const shortDateTime = new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'short', year: 'numeric', hour: '2-digit', minute: '2-digit' });

function startOfDay(ms: number): number {
  const d = new Date(ms);
  d.setHours(0, 0, 0, 0);
  return d.getTime();
}

/** The day part: "Today", "Yesterday", "Tue 24 Nov", "24 Nov 2025". */
export function formatDay(us: number, nowMs = Date.now()): string {
  const ms = us / 1000;
  const days = Math.round((startOfDay(nowMs) - startOfDay(ms)) / 86400e3);
  if (days === 0) return 'Today';
  if (days === 1) return 'Yesterday';
  if (new Date(ms).getFullYear() === new Date(nowMs).getFullYear()) return dayInYear.format(ms);
  return fullDate.format(ms);
}

/** A point's time, to the second (points can be seconds apart): "Today 10:42:13". */
export function formatPointTime(us: number, nowMs = Date.now()): string {
  return `${formatDay(us, nowMs)} ${timeWithSeconds.format(us / 1000)}`;
}

/** A file's modification time: "24 Nov 2026, 10:42". */
export function formatFileTime(us: number): string {
  return shortDateTime.format(us / 1000);
}
