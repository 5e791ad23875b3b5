/**
 * Sorting n fixed-width byte strings packed in one buffer (keys, hashes)
 * without slicing them: the result is the permutation `order` such that item
 * order[0] <= order[1] <= ... bytewise (memcmp order, ties in input order).
 *
 * Items are bucketed by their first two bytes (a counting sort), then each
 * bucket is ordered by the next six bytes read as a number, with a full
 * compare of the rest only on a tie. For random keys or hashes a bucket holds
 * n/65536 items and nearly every comparison is one subtraction. Adversarial
 * inputs (ground keys sharing a prefix) fall back to an O(k log k) sort per
 * bucket, never O(k^2).
 */
export function sortOrder(buf: Uint8Array, width: number): Uint32Array {
  const n = Math.floor(buf.length / width)
  const order = new Uint32Array(n)
  if (width < 8) {
    // Too short for the bucket/prefix scheme: plain comparison sort.
    const idx = Array.from({ length: n }, (_, i) => i)
    idx.sort((x, y) => Buffer.compare(buf.subarray(x * width, x * width + width), buf.subarray(y * width, y * width + width)) || x - y)
    order.set(idx)
    return order
  }
  const counts = new Uint32Array(65537)
  const prefix = new Float64Array(n)
  for (let i = 0, o = 0; i < n; i++, o += width) {
    counts[((buf[o]! << 8) | buf[o + 1]!) + 1]!++
    prefix[i] = buf[o + 2]! * 2 ** 40 + buf[o + 3]! * 2 ** 32 + buf[o + 4]! * 2 ** 24 + buf[o + 5]! * 2 ** 16 + buf[o + 6]! * 2 ** 8 + buf[o + 7]!
  }
  for (let b = 1; b <= 65536; b++) counts[b]! += counts[b - 1]!
  const starts = counts.slice()
  for (let i = 0, o = 0; i < n; i++, o += width) order[counts[(buf[o]! << 8) | buf[o + 1]!]!++] = i
  const cmp = (x: number, y: number): number =>
    prefix[x]! - prefix[y]! || Buffer.compare(buf.subarray(x * width + 8, x * width + width), buf.subarray(y * width + 8, y * width + width)) || x - y
  for (let b = 0; b < 65536; b++) {
    const lo = starts[b]!
    const hi = starts[b + 1]!
    if (hi - lo > 32) {
      order.subarray(lo, hi).set(Array.from(order.subarray(lo, hi)).sort(cmp))
      continue
    }
    for (let i = lo + 1; i < hi; i++) {
      const x = order[i]!
      let j = i
      while (j > lo && cmp(order[j - 1]!, x) > 0) {
        order[j] = order[j - 1]!
        j--
      }
      order[j] = x
    }
  }
  return order
}

/**
 * Copy items of `width` bytes from `src` to `dst` in the order given
 * (dst item i = src item order[i]), by 32-bit words when widths and offsets
 * allow it.
 */
export function permute(src: Uint8Array, width: number, order: Uint32Array, dst: Uint8Array = new Uint8Array(order.length * width)): Uint8Array {
  if (width % 4 === 0 && src.byteOffset % 4 === 0 && dst.byteOffset % 4 === 0) {
    const s = new Uint32Array(src.buffer, src.byteOffset, (order.length * width) >> 2)
    const d = new Uint32Array(dst.buffer, dst.byteOffset, (order.length * width) >> 2)
    const w = width >> 2
    for (let i = 0; i < order.length; i++) {
      const a = order[i]! * w
      const b = i * w
      for (let k = 0; k < w; k++) d[b + k] = s[a + k]!
    }
    return dst
  }
  for (let i = 0; i < order.length; i++) dst.set(src.subarray(order[i]! * width, order[i]! * width + width), i * width)
  return dst
}
