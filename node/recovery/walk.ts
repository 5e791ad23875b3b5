import type { CID } from 'multiformats/cid'
import { blockLinks } from '../../snapshot/codec/links.ts'
import { cidKey } from '../../snapshot/store.ts'
import type { Staging } from './staging.ts'

/**
 * The blocks of the DAG under `root` that `staging` lacks although their
 * parent is present: the roots of the missing subtrees, in depth-first order,
 * each once. Empty when the DAG is complete.
 */
export function missingRoots(staging: Pick<Staging, 'has' | 'get'>, root: CID): CID[] {
  const missing: CID[] = []
  const seen = new Set<string>()
  const stack: CID[] = [root]
  while (stack.length > 0) {
    const cid = stack.pop()!
    const key = cidKey(cid)
    if (seen.has(key)) continue
    seen.add(key)
    if (!staging.has(cid)) {
      missing.push(cid)
      continue
    }
    const links = blockLinks(cid, staging.get(cid))
    for (let i = links.length - 1; i >= 0; i--) stack.push(links[i]!)
  }
  return missing
}
