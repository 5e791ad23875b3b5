import type { AccountDiff } from '../../snapshot/state/diff.ts'

/** The `n` accounts with the largest values (or, `lowest`, the most negative), kept while a stream passes. */
export class Top {
  readonly rows: [string, bigint][] = []
  private readonly n: number
  private readonly lowest: boolean

  constructor(n: number, lowest = false) {
    this.n = n
    this.lowest = lowest
  }

  add(account: string, v: bigint): void {
    const better = (x: bigint, y: bigint): boolean => (this.lowest ? x < y : x > y)
    if (this.rows.length === this.n && !better(v, this.rows.at(-1)![1])) return
    let i = this.rows.length
    while (i > 0 && better(v, this.rows[i - 1]![1])) i--
    this.rows.splice(i, 0, [account, v])
    if (this.rows.length > this.n) this.rows.pop()
  }
}

/** The accounts that gained and lost most of each asset, kept to `top` each while the diff streams. */
export class Movers {
  private readonly top: number
  readonly byAsset = new Map<string, { gained: Top; lost: Top }>()

  constructor(top = 5) {
    this.top = top
  }

  add(d: AccountDiff): void {
    for (const [asset, s] of Object.entries(d.moved)) {
      const v = BigInt(s)
      let e = this.byAsset.get(asset)
      if (e === undefined) this.byAsset.set(asset, (e = { gained: new Top(this.top), lost: new Top(this.top, true) }))
      if (v > 0n) e.gained.add(d.account, v)
      else if (v < 0n) e.lost.add(d.account, v)
    }
  }
}

/** `belowAfter`: the movers below maintenance margin in the later snapshot (undefined: not checked). */
