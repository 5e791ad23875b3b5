import type { ClusterNode } from './cluster.ts'

/** One certified checkpoint as a node's HTTP API shows it (GET /v1/checkpoints). */
interface CheckpointView {
  block: string
  kind: string
  certificateCid: string
  snapshotCid: string
  signers: { signer: string }[]
  threshold: string
}

export interface CertifiedEvent {
  event: 'certified'
  block: string
  kind: string
  certificate: string
  snapshot: string
  /** the nodes whose signatures the nodes' certificates carry (a node keeps a fuller certificate when late signatures arrive) */
  signedBy: number[]
  signers: number
  threshold: string
  /** the nodes holding the certificate when it was reported */
  heldBy: number[]
}

export interface CaughtUpEvent {
  event: 'caught-up'
  node: number
  block: string
}

/** A node that was down (exited, restarting, paused) sends an attestation again. */
export interface SigningEvent {
  event: 'signing-again'
  node: number
  attestations: number
}

/** A node gave up waiting for a quorum on a checkpoint (its noQuorum counter rose). */
export interface NoQuorumEvent {
  event: 'no-quorum'
  node: number
  total: number
}

export interface WatchOptions {
  nodes: () => readonly ClusterNode[]
  onCertified: (e: CertifiedEvent) => void
  onCaughtUp: (e: CaughtUpEvent) => void
  onSigning: (e: SigningEvent) => void
  onNoQuorum: (e: NoQuorumEvent) => void
  signal: AbortSignal
  pollMs?: number
  /** how long after the first node shows a certificate to wait for the others before reporting it (default 1500 ms) */
  settleMs?: number
}

const MAX_BODY = 4 * 1024 * 1024

/** GET a JSON document from a node's API; undefined when it does not answer well (it may be paused, stopping or starting). */
async function getJSON(url: string, signal: AbortSignal): Promise<unknown> {
  try {
    const res = await fetch(url, { signal: AbortSignal.any([signal, AbortSignal.timeout(2_000)]) })
    const text = await res.text()
    return res.ok && text.length <= MAX_BODY ? (JSON.parse(text) as unknown) : undefined
  } catch {
    return undefined
  }
}

async function checkpointsOf(url: string, from: bigint, signal: AbortSignal): Promise<CheckpointView[] | undefined> {
  const list = ((await getJSON(`${url}/v1/checkpoints?from=${from}`, signal)) as { checkpoints?: unknown } | undefined)?.checkpoints
  return Array.isArray(list) ? list.filter((c): c is CheckpointView => typeof (c as CheckpointView)?.block === 'string' && Array.isArray((c as CheckpointView).signers)) : undefined
}

async function countersOf(url: string, signal: AbortSignal): Promise<{ attestationsSent: number; noQuorum: number } | undefined> {
  const c = ((await getJSON(`${url}/v1/status`, signal)) as { counters?: Record<string, unknown> } | undefined)?.counters
  return typeof c?.attestationsSent === 'number' && typeof c.noQuorum === 'number' ? { attestationsSent: c.attestationsSent, noQuorum: c.noQuorum } : undefined
}

/**
 * Follows the nodes through their HTTP APIs: reports each checkpoint once,
 * when the first node holds its certificate, with the nodes that signed it;
 * and reports a node catching up a checkpoint certified while it was not
 * running (killed, stopped, paused or restarting), and attesting again; and
 * a node whose quorum timer ran out (its /v1/status counters).
 */
export function watchCheckpoints(o: WatchOptions): Promise<void> {
  const operators = new Map<string, number>()
  const reported = new Set<string>()
  const pending = new Map<string, { view: CheckpointView; signers: Set<string>; heldBy: Set<number>; firstAt: number }>()
  /** per node: blocks certified while it was down, not yet held by it */
  const missed = new Map<number, Set<string>>()
  /** per node: the newest block it holds */
  const newest = new Map<number, bigint>()
  /** per node: its process and counters at the last poll */
  const last = new Map<number, { pid: number | undefined; attestationsSent: number; noQuorum: number }>()
  /** nodes that were down, until they attest again: the attestation count to exceed, for which process */
  const rejoining = new Map<number, { pid: number | undefined; base: number }>()

  const pollCounters = async (n: ClusterNode): Promise<void> => {
    const c = await countersOf(n.httpUrl!, o.signal)
    if (c === undefined) return
    const pid = n.process.pid
    const prev = last.get(n.index)
    last.set(n.index, { pid, ...c })
    if (c.noQuorum > (prev !== undefined && prev.pid === pid ? prev.noQuorum : 0)) o.onNoQuorum({ event: 'no-quorum', node: n.index, total: c.noQuorum })
    const r = rejoining.get(n.index)
    if (r !== undefined && c.attestationsSent > (r.pid === pid ? r.base : 0)) {
      rejoining.delete(n.index)
      o.onSigning({ event: 'signing-again', node: n.index, attestations: c.attestationsSent })
    }
  }

  const poll = async (n: ClusterNode): Promise<void> => {
    if (n.httpUrl === null) return
    const gaps = missed.get(n.index)
    const from = [...(gaps ?? [])].map(BigInt).reduce((a, b) => (a < b ? a : b), (newest.get(n.index) ?? -1n) + 1n)
    const list = await checkpointsOf(n.httpUrl, from, o.signal)
    if (list === undefined) return
    for (const c of list) {
      const b = BigInt(c.block)
      if (b > (newest.get(n.index) ?? -1n)) newest.set(n.index, b)
      if (gaps?.delete(c.block) === true) o.onCaughtUp({ event: 'caught-up', node: n.index, block: c.block })
      if (reported.has(c.block)) continue
      let p = pending.get(c.block)
      if (p === undefined) {
        p = { view: c, signers: new Set(), heldBy: new Set(), firstAt: Date.now() }
        pending.set(c.block, p)
        for (const other of o.nodes()) if (other.state !== 'running') missed.set(other.index, (missed.get(other.index) ?? new Set()).add(c.block))
      }
      p.heldBy.add(n.index)
      for (const s of c.signers) p.signers.add(s.signer.toLowerCase())
    }
  }

  const flush = (running: readonly ClusterNode[]): void => {
    const ready = [...pending.entries()].filter(([, p]) => Date.now() - p.firstAt >= (o.settleMs ?? 1500) || running.every((n) => p.heldBy.has(n.index)))
    for (const [block, p] of ready.sort(([a], [z]) => (BigInt(a) < BigInt(z) ? -1 : 1))) {
      pending.delete(block)
      reported.add(block)
      const signedBy = [...p.signers].map((s) => operators.get(s) ?? -1).filter((i) => i >= 0).sort((a, z) => a - z)
      const v = p.view
      o.onCertified({ event: 'certified', block, kind: v.kind, certificate: v.certificateCid, snapshot: v.snapshotCid, signedBy, signers: p.signers.size, threshold: v.threshold, heldBy: [...p.heldBy].sort((a, z) => a - z) })
    }
  }

  return (async () => {
    while (!o.signal.aborted) {
      const nodes = o.nodes()
      for (const n of nodes) operators.set(n.operator.toLowerCase(), n.index)
      for (const n of nodes) if (n.state !== 'running' && !rejoining.has(n.index)) rejoining.set(n.index, { pid: last.get(n.index)?.pid, base: last.get(n.index)?.attestationsSent ?? 0 })
      const running = nodes.filter((n) => n.state === 'running' && n.httpUrl !== null)
      await Promise.all(running.flatMap((n) => [poll(n), pollCounters(n)]))
      flush(running)
      await new Promise((r) => setTimeout(r, o.pollMs ?? 500))
    }
  })()
}
