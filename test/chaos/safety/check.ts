import { checkpointKey, contentKey } from '../../../protocol/attestation.ts'
import { DagChecker, readStoredState, type StoredState } from './read-store.ts'

/**
 * The safety check every scenario ends with, over all nodes' data directories (nodes stopped):
 *  1. never two certificates for one checkpoint (scope, block, kind) with different content, across all nodes;
 *  2. no honest operator signed two contents for one checkpoint (its sign log, and every certificate
 *     that carries its signature, on every node);
 *  3. every certified snapshot's DAG complete on at least `quorum` nodes (among snapshots a quorum of
 *     nodes still hold a certificate for: retention drops old ones on each node in its own time).
 * Violations are listed; figures are counts.
 */
export interface SafetyReport {
  ok: boolean
  nodes: number
  certificates: number
  checkpointsCertified: number
  conflictingCertificates: number
  doubleSigns: number
  snapshotsChecked: number
  incompleteSnapshots: number
  /** certificates fewer than a quorum of nodes still hold (dropped elsewhere by retention): not checked */
  snapshotsHeldByFewerThanQuorum: number
  unreadableCertificates: number
  damagedSignLogLines: number
  violations: string[]
}

export interface SafetyOptions {
  dataDirs: string[]
  /** nodes that must hold a certified snapshot's whole DAG */
  quorum: number
  /** operators allowed to equivocate (the scenario's byzantine ones); lower-case */
  byzantine?: string[]
  /** skip the DAG walk (e.g. nothing was certified on purpose) */
  dags?: boolean
}

export async function checkSafety(o: SafetyOptions): Promise<SafetyReport> {
  const states: StoredState[] = await Promise.all(o.dataDirs.map((d) => readStoredState(d)))
  const byz = new Set((o.byzantine ?? []).map((a) => a.toLowerCase()))
  const violations: string[] = []
  const contents = new Map<string, Set<string>>()
  const snapshots = new Map<string, import('multiformats/cid').CID>()
  const about = new Map<string, { block: bigint; signers: Set<string>; holders: Set<number> }>()
  const signed = new Map<string, Set<string>>()
  const sign = (operator: string, checkpoint: string, content: string): void => {
    if (byz.has(operator)) return
    const k = `${operator} ${checkpoint}`
    signed.set(k, (signed.get(k) ?? new Set()).add(content))
  }
  let certificates = 0
  for (const [node, s] of states.entries()) {
    for (const c of s.certificates) {
      certificates++
      const cp = checkpointKey(c.body)
      const content = contentKey(c.body)
      contents.set(cp, (contents.get(cp) ?? new Set()).add(content))
      snapshots.set(c.body.snapshotCid.toString(), c.body.snapshotCid)
      const a = about.get(c.body.snapshotCid.toString()) ?? { block: c.body.blockNumber, signers: new Set<string>(), holders: new Set<number>() }
      for (const sig of c.signatures) a.signers.add(sig.signer.toLowerCase())
      a.holders.add(node)
      about.set(c.body.snapshotCid.toString(), a)
      for (const sig of c.signatures) sign(sig.signer.toLowerCase(), cp, content)
    }
    for (const e of s.signLog) if (e.signer !== undefined) sign(e.signer, e.checkpoint, e.content)
  }
  let conflicting = 0
  for (const [cp, set] of contents)
    if (set.size > 1) {
      conflicting++
      violations.push(`two certified contents for ${cp}: ${[...set].join(' | ')}`)
    }
  let doubleSigns = 0
  for (const [k, set] of signed)
    if (set.size > 1) {
      doubleSigns++
      violations.push(`operator signed ${set.size} contents: ${k}`)
    }
  let incomplete = 0
  let beyondRetention = 0
  if (o.dags !== false && snapshots.size > 0) {
    const checkers = o.dataDirs.map((d) => new DagChecker(d))
    try {
      for (const [k, cid] of snapshots) {
        const complete: number[] = []
        for (const [i, ch] of checkers.entries()) if (await ch.isComplete(cid)) complete.push(i)
        // retention drops old checkpoints (certificate and blocks) on each node in its own time: a snapshot
        // whose certificate fewer than a quorum of nodes still hold has left the retention window (counted)
        const a = about.get(k)!
        if (a.holders.size < o.quorum) {
          beyondRetention++
          continue
        }
        if (complete.length < o.quorum) {
          incomplete++
          violations.push(`certified snapshot ${k} (block ${a.block}) complete on ${complete.length} nodes (data dirs ${complete.join(',')}), fewer than ${o.quorum}; certificate held by ${[...a.holders].join(',')}; signed by ${[...a.signers].join(',')}`)
        }
      }
    } finally {
      await Promise.all(checkers.map((c) => c.close()))
    }
  }
  const unreadable = states.reduce((a, s) => a + s.unreadableCertificates, 0)
  const damaged = states.reduce((a, s) => a + s.damagedSignLogLines, 0)
  if (unreadable > 0) violations.push(`${unreadable} unreadable certificate files`)
  if (damaged > 0) violations.push(`${damaged} damaged sign-log lines`)
  return {
    ok: violations.length === 0,
    nodes: o.dataDirs.length,
    certificates,
    checkpointsCertified: contents.size,
    conflictingCertificates: conflicting,
    doubleSigns,
    snapshotsChecked: o.dags === false ? 0 : snapshots.size,
    incompleteSnapshots: incomplete,
    snapshotsHeldByFewerThanQuorum: beyondRetention,
    unreadableCertificates: unreadable,
    damagedSignLogLines: damaged,
    violations: violations.slice(0, 20),
  }
}
