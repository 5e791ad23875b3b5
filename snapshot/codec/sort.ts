/**
 * Sorting n fixed-width byte strings (keys) packed in one buffer, without
 * slicing them: returns the keys in ascending bytewise (memcmp) order and the
 * permutation `order` (sorted[j] = item order[j]; equal items keep input order).
 *
 * Items are scattered into buckets by their first two bytes (a counting sort;
 * random writes, which the CPU buffers, rather than a random read per item),
 * then each bucket is sorted in place, comparing the next six bytes as a
 * number and the rest only on a tie. For random keys a bucket holds
 * n/65536 items. A crowded bucket (ground keys sharing a prefix) falls back
 * to an O(k log k) sort, never O(k^2).
 */
export function sortKeys(buf: Uint8Array, width: number): { order: Uint32Array; sorted: Uint8Array } {
  const n = Math.floor(buf.length / width)
  if (width < 8) return sortShort(buf, width, n)
  const counts = new Uint32Array(65537)
  for (let i = 0, o = 0; i < n; i++, o += width) counts[((buf[o]! << 8) | buf[o + 1]!) + 1]!++
  for (let b = 1; b <= 65536; b++) counts[b]! += counts[b - 1]!
  const starts = counts.slice()
  const order = new Uint32Array(n)
  const sorted = new Uint8Array(n * width)
  const copy = copier(buf, sorted, width)
  for (let i = 0, o = 0; i < n; i++, o += width) {
    const p = counts[(buf[o]! << 8) | buf[o + 1]!]!++
    copy(i, p)
    order[p] = i
  }
  const prefix = (j: number): number => {
    const o = j * width
    return sorted[o + 2]! * 2 ** 40 + sorted[o + 3]! * 2 ** 32 + sorted[o + 4]! * 2 ** 24 + sorted[o + 5]! * 2 ** 16 + sorted[o + 6]! * 2 ** 8 + sorted[o + 7]!
  }
  const tail = (i: number, j: number): number => {
    for (let a = i * width + 8, b = j * width + 8, end = i * width + width; a < end; a++, b++) if (sorted[a] !== sorted[b]) return sorted[a]! - sorted[b]!
    return order[i]! - order[j]!
  }
  const tmp = new Uint8Array(width)
  for (let b = 0; b < 65536; b++) {
    const lo = starts[b]!
    const hi = starts[b + 1]!
    if (hi - lo < 2) continue
    if (hi - lo > 32) {
      sortRange(sorted, order, width, lo, hi)
      continue
    }
    for (let i = lo + 1; i < hi; i++) {
      const k = prefix(i)
      let j = i
      while (j > lo) {
        const kj = prefix(j - 1)
        if (kj < k || (kj === k && tail(j - 1, i) < 0)) break
        j--
      }
      if (j === i) continue
      // move item i down to j, shifting [j, i) up by one
      tmp.set(sorted.subarray(i * width, i * width + width))
      sorted.copyWithin((j + 1) * width, j * width, i * width)
      sorted.set(tmp, j * width)
      const x = order[i]!
      order.copyWithin(j + 1, j, i)
      order[j] = x
    }
  }
  return { order, sorted }
}

/** Sort positions [lo, hi) of (sorted, order) by key, then input order. */
function sortRange(sorted: Uint8Array, order: Uint32Array, width: number, lo: number, hi: number): void {
  const items = Array.from({ length: hi - lo }, (_, k) => ({ key: sorted.slice((lo + k) * width, (lo + k + 1) * width), i: order[lo + k]! }))
  items.sort((x, y) => Buffer.compare(x.key, y.key) || x.i - y.i)
  items.forEach((it, k) => {
    sorted.set(it.key, (lo + k) * width)
    order[lo + k] = it.i
  })
}

/** Keys shorter than the bucket and prefix scheme needs: a plain comparison sort. */
function sortShort(buf: Uint8Array, width: number, n: number): { order: Uint32Array; sorted: Uint8Array } {
  const idx = Array.from({ length: n }, (_, i) => i)
  idx.sort((x, y) => Buffer.compare(buf.subarray(x * width, x * width + width), buf.subarray(y * width, y * width + width)) || x - y)
  const order = Uint32Array.from(idx)
  return { order, sorted: permute(buf, width, order) }
}

/** Copy item `from` of src to slot `to` of dst (items of `width` bytes), by 32-bit words when widths and offsets allow. */
export function copier(src: Uint8Array, dst: Uint8Array, width: number): (from: number, to: number) => void {
  if (width % 4 === 0 && src.byteOffset % 4 === 0 && dst.byteOffset % 4 === 0) {
    const s = new Int32Array(src.buffer, src.byteOffset, src.length >> 2)
    const d = new Int32Array(dst.buffer, dst.byteOffset, dst.length >> 2)
    const w = width >> 2
    return (from, to) => {
      for (let k = 0; k < w; k++) d[to * w + k] = s[from * w + k]!
    }
  }
  return (from, to) => {
    for (let k = 0; k < width; k++) dst[to * width + k] = src[from * width + k]!
  }
}

/**
 * Copy items of `width` bytes from `src` to `dst` in the order given
 * (dst item i = src item order[i]).
 */
export function permute(src: Uint8Array, width: number, order: Uint32Array, dst: Uint8Array = new Uint8Array(order.length * width)): Uint8Array {
  const copy = copier(src, dst, width)
  for (let i = 0; i < order.length; i++) copy(order[i]!, i)
  return dst
}
