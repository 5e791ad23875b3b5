import { toFunctionSignature, type Abi, type AbiEvent, type AbiFunction, type Hex } from 'viem'

export interface Receipt {
  status: Hex
  blockNumber: Hex
  blockHash: Hex
  logs: { topics: Hex[]; data: Hex; address: Hex }[]
  contractAddress: Hex | null
}

/**
 * Raw JSON-RPC and transactions from unlocked anvil accounts, for contract tests: `revertOf` names
 * the custom error a call reverts with through the contract's own decoder.
 */
export function txHelpers(rpcUrl: () => string, decodeError: (data: Hex) => { errorName: string } | undefined) {
  async function rpc<T>(method: string, params: unknown[] = []): Promise<T> {
    const res = await fetch(rpcUrl(), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }) })
    const j = (await res.json()) as { result?: T; error?: { message: string; data?: Hex } }
    if (j.error !== undefined) throw Object.assign(new Error(`${method}: ${j.error.message}`), { data: j.error.data })
    return j.result as T
  }
  /** Send and wait for the receipt (automine may answer before the block exists); returns it whatever the status. */
  async function sendRaw(from: Hex, to: Hex | null, data: Hex): Promise<Receipt> {
    const hash = await rpc<Hex>('eth_sendTransaction', [{ from, ...(to === null ? {} : { to }), data, gas: '0x1000000' }])
    for (let i = 0; i < 500; i++) {
      const r = await rpc<Receipt | null>('eth_getTransactionReceipt', [hash])
      if (r !== null) return r
      await new Promise((res) => setTimeout(res, 10))
    }
    throw new Error('transaction not mined')
  }
  /** The custom error a call reverts with (eth_call at latest), or undefined if it succeeds. */
  async function revertOf(from: Hex, to: Hex, data: Hex): Promise<string | undefined> {
    try {
      await rpc('eth_call', [{ from, to, data, gas: '0x1000000' }, 'latest'])
      return undefined
    } catch (err) {
      const d = (err as { data?: Hex }).data
      if (d === undefined) throw err
      return decodeError(d)?.errorName ?? `undecoded ${d}`
    }
  }
  async function send(from: Hex, to: Hex | null, data: Hex): Promise<Receipt> {
    const r = await sendRaw(from, to, data)
    if (r.status !== '0x1') throw new Error(`transaction reverted: ${(to === null ? undefined : await revertOf(from, to, data)) ?? 'no reason'}`)
    return r
  }
  return { rpc, sendRaw, send, revertOf }
}

/** Signatures of one kind of ABI item (tuples expanded), with indexed flags for events and outputs for functions. */
export function abiSignatures(abi: Abi, type: string): string[] {
  return abi
    .filter((x) => x.type === type)
    .map((x) => {
      const item = x as AbiFunction | AbiEvent
      const indexed = item.type === 'event' ? ` indexed:${item.inputs.map((i) => i.indexed === true).join()}` : ''
      const outputs = item.type === 'function' ? ` returns:${item.outputs.map((o) => o.type).join()} ${item.stateMutability}` : ''
      return `${toFunctionSignature(item)}${indexed}${outputs}`
    })
}
