/**
 * Leaf-level differences between two plain-JSON values (a record's or the
 * market state's `toJSON` form): which scalar changed, where, from what to
 * what. Lists named in `identity` are matched by their items' identity fields
 * (so a position opened in the middle of a list is one added item, not every
 * later item shifted); other lists are compared by index. Not consensus: this
 * is the human/governance view of a change, derived from canonical records.
 */

export type Scalar = string | number | boolean | null

export interface FieldChange {
  /** e.g. `collateral[asset=0xab…].amount`, `perps[market=0].size`, `markets[id=1].price` */
  path: string
  /** null: absent on that side (the item or record did not exist) */
  before: Scalar
  after: Scalar
}

export type Identity = Readonly<Record<string, readonly string[]>>

type Json = Scalar | undefined | Json[] | { [k: string]: Json }

const isObject = (v: unknown): v is Record<string, Json> => v !== null && typeof v === 'object' && !Array.isArray(v)

/** Identity values compare as integers when both are decimal integers, false before true, else as strings. */
function compareIds(a: Scalar[], b: Scalar[]): number {
  for (let i = 0; i < a.length; i++) {
    const x = a[i]
    const y = b[i]
    if (x === y) continue
    if (typeof x === 'string' && typeof y === 'string' && /^-?[0-9]+$/.test(x) && /^-?[0-9]+$/.test(y)) return BigInt(x) < BigInt(y) ? -1 : 1
    if (typeof x === 'boolean' && typeof y === 'boolean') return x ? 1 : -1
    return String(x) < String(y) ? -1 : 1
  }
  return 0
}

function scalar(v: Json): Scalar {
  if (v === undefined || v === null) return null
  if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return v
  return JSON.stringify(v)
}

function walk(path: string, listName: string, a: Json, b: Json, identity: Identity, skip: readonly string[], out: FieldChange[]): void {
  if (isObject(a) || isObject(b)) {
    const ao = isObject(a) ? a : {}
    const bo = isObject(b) ? b : {}
    const keys = [...Object.keys(ao), ...Object.keys(bo).filter((k) => !Object.hasOwn(ao, k))]
    for (const k of keys) if (!skip.includes(k)) walk(path === '' ? k : `${path}.${k}`, path === '' ? k : `${listName}.${k}`, ao[k], bo[k], identity, [], out)
    return
  }
  if (Array.isArray(a) || Array.isArray(b)) {
    const al = Array.isArray(a) ? a : []
    const bl = Array.isArray(b) ? b : []
    const ids = identity[listName]
    if (ids !== undefined && [...al, ...bl].every(isObject)) {
      const items = new Map<string, { id: Scalar[]; a?: Json; b?: Json }>()
      const add = (item: Record<string, Json>, side: 'a' | 'b'): void => {
        const id = ids.map((f) => scalar(item[f]))
        const k = JSON.stringify(id)
        const e = items.get(k) ?? { id }
        e[side] = item
        items.set(k, e)
      }
      for (const x of al) add(x as Record<string, Json>, 'a')
      for (const x of bl) add(x as Record<string, Json>, 'b')
      for (const e of [...items.values()].sort((x, y) => compareIds(x.id, y.id))) {
        const label = ids.map((f, i) => `${f}=${String(e.id[i])}`).join(',')
        walk(`${path}[${label}]`, listName, e.a ?? null, e.b ?? null, identity, ids, out)
      }
      return
    }
    for (let i = 0; i < Math.max(al.length, bl.length); i++) walk(`${path}[${i}]`, listName, al[i], bl[i], identity, [], out)
    return
  }
  const x = scalar(a)
  const y = scalar(b)
  if (x !== y) out.push({ path, before: x, after: y })
}

/**
 * Every scalar that differs between `before` and `after` (either may be null:
 * an added or removed record lists all its leaves). Fields named in
 * `identity['']` (the record's key, e.g. `account`) are not listed.
 * Order: object fields as written, list items by identity.
 */
export function fieldChanges(before: unknown, after: unknown, identity: Identity = {}): FieldChange[] {
  const out: FieldChange[] = []
  walk('', '', (before ?? null) as Json, (after ?? null) as Json, identity, identity[''] ?? [], out)
  return out
}
