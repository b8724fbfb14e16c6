/** How much was written when, beside the slider: one bar per time bucket, newest at the top. */
import type { ActivityBucket } from '../../../shared/contract.js';
import { formatBytes } from '../../../shared/units.js';
import { barLengths, fractionOfTime, type Span } from '../model/slider-scale.js';

export function ActivityHistogram({ buckets, span }: { buckets: readonly ActivityBucket[]; span: Span }) {
  const lengths = barLengths(buckets.map((b) => b.bytes));
  const total = buckets.reduce((n, b) => n + b.bytes, 0);
  const rowHeight = buckets.length ? 100 / buckets.length : 0;
  return (
    <svg className="histogram" role="img" aria-label={`Activity: ${formatBytes(total)} written`} viewBox="0 0 100 100" preserveAspectRatio="none">
      {buckets.map((b, i) => {
        const next = buckets[i + 1]?.startUs ?? span.latestUs;
        // The bucket's newer edge sits higher (smaller fraction).
        const top = fractionOfTime(span, next) * 100;
        const height = Math.max(rowHeight * 0.7, fractionOfTime(span, b.startUs) * 100 - top - rowHeight * 0.2);
        const w = lengths[i]! * 100;
        return w > 0 ? <rect key={b.startUs} x={100 - w} y={top} width={w} height={Math.max(0.3, height)} rx={0.6} /> : null;
      })}
    </svg>
  );
}
