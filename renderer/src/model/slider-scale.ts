/**
 * The timeline slider's geometry: a vertical track over the time span of a disk's history,
 * newest at the top. Fractions run from 0 (top, newest) to 1 (bottom, oldest). Pure.
 */

export interface Span {
  firstUs: number;
  latestUs: number;
}

export function clamp(v: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, v));
}

/** The time at a fraction of the track (0 top/newest … 1 bottom/oldest). */
export function timeAtFraction(span: Span, fraction: number): number {
  const f = clamp(fraction, 0, 1);
  return Math.round(span.latestUs - f * (span.latestUs - span.firstUs));
}

/** Where a time sits on the track (0 top/newest … 1 bottom/oldest). */
export function fractionOfTime(span: Span, us: number): number {
  const width = span.latestUs - span.firstUs;
  if (width <= 0) return 0;
  return clamp((span.latestUs - us) / width, 0, 1);
}

/** The time a page key moves by: a tenth of the span, at least a second. */
export function pageStepUs(span: Span): number {
  return Math.max(1_000_000, Math.round((span.latestUs - span.firstUs) / 10));
}

/** How many histogram buckets a track of this height shows (one per few pixels, bounded). */
export function bucketCount(trackPixels: number): number {
  return clamp(Math.floor(trackPixels / 4), 8, 400);
}

/** Each bucket's share of the largest one (0…1), on a square-root scale so small activity still shows. */
export function barLengths(values: readonly number[]): number[] {
  const max = Math.max(0, ...values);
  if (max <= 0) return values.map(() => 0);
  return values.map((v) => (v <= 0 ? 0 : Math.max(0.04, Math.sqrt(v / max))));
}
