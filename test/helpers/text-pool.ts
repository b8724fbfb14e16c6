/**
 * Text-like bytes (independent words of a small vocabulary with numbers and newlines):
 * zstd level 1 shrinks them about 2.5×, and runs slowest on them of any real data.
 */
export function textPool(length: number, seed = 1): Buffer {
  const words = ('the of and to in is that for it as was with be by on not he this are or his from at which but have an they ' +
    'you were her she there would their we him been has when who will more no if out so said what up its about into than them ' +
    'can only other new some could time these two may then do first any my now such like our over man me even most made after ' +
    'also did many before must through back years where much your way well down should because each just those people how too')
    .split(' ')
    .map((w) => Buffer.from(w));
  const b = Buffer.allocUnsafe(length);
  let x = seed >>> 0 || 1;
  const rnd = () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x >>> 0;
  };
  let at = 0;
  while (at < length) {
    const r = rnd();
    let w = words[r % words.length]!;
    if ((r >>> 24) < 12) w = Buffer.from(String(r % 100_000));
    const n = Math.min(w.length, length - at);
    w.copy(b, at, 0, n);
    at += n;
    if (at < length) b[at++] = (r >>> 20) % 11 === 0 ? 0x0a : 0x20;
  }
  return b;
}
