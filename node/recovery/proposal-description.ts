import type { Citation } from './citation.ts'
import { citationMarkdown } from './citation.ts'
import { actionSignature, type RecoveryAction } from './proposal.ts'

/**
 * The description of a recovery proposal: a title, the calls in order and the citation block.
 * Deterministic (Governor hashes it into the proposal id, so queue and execute need the same text).
 */
export function proposalDescription(c: Citation, actions: readonly RecoveryAction[]): string {
  return [
    `# Ark recovery: ${c.adapter.id} on chain ${c.chainId}, certified block ${c.blockNumber}`,
    '',
    'Calls, in order:',
    '',
    ...actions.map((a, i) => `${i + 1}. \`${a.target}\` ${actionSignature(a)}: ${a.note}`),
    '',
    citationMarkdown(c),
  ].join('\n')
}
