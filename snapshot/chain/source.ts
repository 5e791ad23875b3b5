import { ChainDisagreementError, ChainError, redact, RpcError } from './errors.ts'
import { isRangeTooLarge, RPC_DEFAULTS, RpcEndpoint, type RpcOptions } from './rpc.ts'

export type Hex = `0x${string}`

export interface BlockHeader {
  number: bigint
  hash: Hex
  parentHash: Hex
  timestamp: bigint
}

export interface Log {
  address: Hex
  topics: Hex[]
  data: Hex
  blockNumber: bigint
  blockHash: Hex
  logIndex: number
  transactionHash: Hex
}

export type Finality = { kind: 'finalized' } | { kind: 'confirmations'; confirmations: number }

export interface ChainSourceOptions {
  /** one or more endpoints of the same chain; block hashes must agree across all of them */
  rpcUrls: string[]
  chainId: bigint
  finality: Finality
  /** first eth_getLogs range; halved whenever a provider refuses a range */
  maxLogRange: bigint
  rpc: Partial<RpcOptions>
}

export const CHAIN_SOURCE_DEFAULTS: Readonly<Omit<ChainSourceOptions, 'rpcUrls' | 'chainId'>> = Object.freeze({
  finality: { kind: 'finalized' } as Finality,
  maxLogRange: 5_000n,
  rpc: RPC_DEFAULTS,
})

const HEX = /^0x[0-9a-fA-F]*$/
const HASH = /^0x[0-9a-fA-F]{64}$/

function big(v: unknown, what: string, url: string): bigint {
  if (typeof v !== 'string' || !HEX.test(v) || v.length < 3) throw new RpcError('RPC_BAD_RESPONSE', url, `${what} is not a hex quantity`, { retryable: true })
  return BigInt(v)
}

function hash(v: unknown, what: string, url: string): Hex {
  if (typeof v !== 'string' || !HASH.test(v)) throw new RpcError('RPC_BAD_RESPONSE', url, `${what} is not a 32-byte hash`, { retryable: true })
  return v.toLowerCase() as Hex
}

function parseHeader(raw: unknown, url: string, what: string): BlockHeader {
  const b = raw as Record<string, unknown> | null
  if (b === null || typeof b !== 'object') throw new RpcError('RPC_BAD_RESPONSE', url, `${what}: block missing from the response`, { retryable: true })
  return { number: big(b.number, `${what}.number`, url), hash: hash(b.hash, `${what}.hash`, url), parentHash: hash(b.parentHash, `${what}.parentHash`, url), timestamp: big(b.timestamp, `${what}.timestamp`, url) }
}

function parseLog(raw: unknown, url: string): Log {
  const l = raw as Record<string, unknown> | null
  if (l === null || typeof l !== 'object' || !Array.isArray(l.topics) || typeof l.address !== 'string' || typeof l.data !== 'string' || !HEX.test(l.data)) {
    throw new RpcError('RPC_BAD_RESPONSE', url, 'eth_getLogs returned a malformed log', { retryable: true })
  }
  if (l.removed === true) throw new RpcError('RPC_BAD_RESPONSE', url, 'eth_getLogs returned a removed (reorged) log', { retryable: true })
  return {
    address: (l.address as string).toLowerCase() as Hex,
    topics: (l.topics as unknown[]).map((t, i) => hash(t, `topic ${i}`, url)),
    data: l.data as Hex,
    blockNumber: big(l.blockNumber, 'log.blockNumber', url),
    blockHash: hash(l.blockHash, 'log.blockHash', url),
    logIndex: Number(big(l.logIndex, 'log.logIndex', url)),
    transactionHash: hash(l.transactionHash, 'log.transactionHash', url),
  }
}

/**
 * Every chain read Ark makes. Reads that feed a snapshot are pinned to one
 * block by hash (EIP-1898), block hashes are cross-checked across all
 * configured endpoints, and only final blocks are ever handed out as
 * checkpoints. Everything takes an AbortSignal.
 */
export class ChainSource {
  readonly endpoints: RpcEndpoint[]
  readonly options: ChainSourceOptions
  private logRange: bigint

  constructor(options: Partial<ChainSourceOptions> & Pick<ChainSourceOptions, 'rpcUrls' | 'chainId'>) {
    this.options = { ...CHAIN_SOURCE_DEFAULTS, ...options, rpc: { ...RPC_DEFAULTS, ...options.rpc } }
    if (this.options.rpcUrls.length === 0) throw new ChainError('RPC_UNAVAILABLE', 'no RPC endpoint configured; pass at least one --rpc URL')
    this.endpoints = this.options.rpcUrls.map((u) => new RpcEndpoint(u, this.options.rpc))
    this.logRange = this.options.maxLogRange
  }

  /** Total JSON-RPC requests sent, retries included. */
  get requests(): number {
    return this.endpoints.reduce((n, e) => n + e.requests, 0)
  }

  /** First endpoint that answers; the next one when an endpoint is unreachable. */
  private async failover<T>(fn: (e: RpcEndpoint) => Promise<T>): Promise<T> {
    let last: unknown
    for (const e of this.endpoints) {
      try {
        return await fn(e)
      } catch (err) {
        if (!(err instanceof RpcError) || err.chainCode === 'RPC_ERROR') throw err
        last = err
      }
    }
    throw last
  }

  async checkChainId(signal?: AbortSignal): Promise<void> {
    for (const e of this.endpoints) {
      const id = big(await e.request('eth_chainId', [], signal), 'chainId', e.url)
      if (id !== this.options.chainId) {
        throw new ChainError('WRONG_CHAIN', `endpoint ${redact(e.url)} serves chain ${id}, but chain ${this.options.chainId} is configured; fix the RPC URL or the chain id`)
      }
    }
  }

  private async headerFrom(e: RpcEndpoint, tag: bigint | 'latest' | 'finalized', signal?: AbortSignal): Promise<BlockHeader | null> {
    const raw = await e.request<unknown>('eth_getBlockByNumber', [typeof tag === 'bigint' ? `0x${tag.toString(16)}` : tag, false], signal)
    return raw === null ? null : parseHeader(raw, e.url, `block ${String(tag)}`)
  }

  /** Header of block `number`; every endpoint must return the same hash. */
  async agreedHeader(number: bigint, signal?: AbortSignal): Promise<BlockHeader> {
    const headers = await Promise.all(this.endpoints.map((e) => this.headerFrom(e, number, signal)))
    const first = headers[0]
    if (headers.some((h) => h === null)) throw new ChainError('NOT_FINAL', `block ${number} does not exist yet on every endpoint; wait for it`, { retryable: true })
    for (let i = 1; i < headers.length; i++) {
      if (headers[i]!.hash !== first!.hash) {
        throw new ChainDisagreementError(`RPC endpoints disagree on block ${number}: ${first!.hash} vs ${headers[i]!.hash}; one of them is on another fork or lying. Check the providers before snapshotting this block`, {
          block: number.toString(),
          hashes: headers.map((h) => h!.hash),
        })
      }
    }
    return first!
  }

  /**
   * The newest block Ark may snapshot, per the finality rule, on every endpoint: the lowest head among
   * them (agreedHeader needs the block on each). Taking one endpoint's head, a single endpoint lagging
   * behind the others made every later header read fail "does not exist yet" for as long as it lagged,
   * and the node certified nothing (found by the chaos rpc-faults scenario).
   */
  async finalizedHead(signal?: AbortSignal): Promise<BlockHeader> {
    const f = this.options.finality
    const tag = f.kind === 'finalized' ? 'finalized' : 'latest'
    const heads = await Promise.all(this.endpoints.map((e) => this.headerFrom(e, tag, signal)))
    const head = heads.some((h) => h === null) ? null : heads.reduce((a, h) => (h!.number < a!.number ? h : a))
    if (head === null) throw new ChainError('NOT_FINAL', 'the endpoint has no finalized block yet; use finality "confirmations" for chains without finality', { retryable: true })
    const n = f.kind === 'finalized' ? head.number : head.number - BigInt(f.confirmations)
    if (n < 0n) throw new ChainError('NOT_FINAL', `the chain has only ${head.number} blocks, fewer than the ${f.kind === 'confirmations' ? f.confirmations : 0} confirmations required`, { retryable: true })
    return this.agreedHeader(n, signal)
  }

  /** Pinned header for a checkpoint: final, and agreed by every endpoint. */
  async checkpointHeader(number: bigint | 'finalized', signal?: AbortSignal): Promise<BlockHeader> {
    const final = await this.finalizedHead(signal)
    if (number === 'finalized') return final
    if (number > final.number) {
      throw new ChainError('NOT_FINAL', `block ${number} is not final yet (finalized head is ${final.number}); Ark only snapshots final blocks, retry later or pick an older block`, { retryable: true })
    }
    return this.agreedHeader(number, signal)
  }

  /** eth_call pinned by block hash (EIP-1898, requireCanonical). */
  async call(to: Hex, data: Hex, blockHash: Hex, signal?: AbortSignal): Promise<Hex> {
    return this.failover((e) => e.request<Hex>('eth_call', [{ to, data }, { blockHash, requireCanonical: true }], signal))
  }

  async code(address: Hex, blockHash: Hex, signal?: AbortSignal): Promise<Hex> {
    return this.failover((e) => e.request<Hex>('eth_getCode', [address, { blockHash, requireCanonical: true }], signal))
  }

  /**
   * Logs of `addresses` in [from, to], in chain order. The range is split;
   * a range the provider refuses is halved and retried, down to one block.
   */
  async logs(addresses: Hex[], from: bigint, to: bigint, signal?: AbortSignal): Promise<Log[]> {
    const out: Log[] = []
    let start = from
    while (start <= to) {
      const end = start + this.logRange - 1n < to ? start + this.logRange - 1n : to
      let got: unknown
      try {
        got = await this.failover((e) => e.request<unknown>('eth_getLogs', [{ address: addresses, fromBlock: `0x${start.toString(16)}`, toBlock: `0x${end.toString(16)}` }], signal))
      } catch (err) {
        if (isRangeTooLarge(err) && end > start) {
          this.logRange = (end - start + 1n) / 2n
          if (this.logRange < 1n) this.logRange = 1n
          continue
        }
        throw err
      }
      if (!Array.isArray(got)) throw new RpcError('RPC_BAD_RESPONSE', this.endpoints[0]!.url, 'eth_getLogs result is not an array', { retryable: true })
      for (const raw of got) {
        const log = parseLog(raw, this.endpoints[0]!.url)
        if (log.blockNumber < start || log.blockNumber > end) throw new RpcError('RPC_BAD_RESPONSE', this.endpoints[0]!.url, `eth_getLogs returned a log from block ${log.blockNumber} outside [${start}, ${end}]`, { retryable: true })
        out.push(log)
      }
      start = end + 1n
    }
    out.sort((a, b) => (a.blockNumber < b.blockNumber ? -1 : a.blockNumber > b.blockNumber ? 1 : a.logIndex - b.logIndex))
    return out
  }
}
