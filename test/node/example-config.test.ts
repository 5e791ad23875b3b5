import { describe, expect, it } from 'vitest'
import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { loadNodeConfig } from '../../node/archive/config.ts'
import { parseOperatorSet } from '../../protocol/operator-set.ts'

const deploy = fileURLToPath(new URL('../../deploy/', import.meta.url))

describe('deploy examples', () => {
  it('the example node config is valid and documents every section', async () => {
    const c = await loadNodeConfig(`${deploy}node.example.json`, {})
    expect(c.chain.rpc).toHaveLength(2)
    expect(c.http.host).toBe('127.0.0.1')
    expect('registry' in c.operators).toBe(true)
    expect(c.dataDir.endsWith('/deploy/data')).toBe(true)
    expect(c.watchdog?.options.oracle.heartbeatSec).toBe(3600)
    expect(c.watchdog?.secretFiles.map((x) => x.file.endsWith('/deploy/webhook.secret'))).toEqual([true])
    expect(c.watchdog?.options.breaker?.key).toMatchObject({ keystore: expect.stringMatching(/guardian\.keystore\.json$/) })
  })
  it('the example operator set parses with a 3-of-4 threshold', async () => {
    const set = parseOperatorSet(JSON.parse(await readFile(`${deploy}operators.example.json`, 'utf8')))
    expect(set.threshold).toBe(3n)
    expect(set.totalWeight).toBe(4n)
  })
})
