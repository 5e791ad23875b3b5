import { resolve } from 'node:path'
import { hexToBytes } from '../../../snapshot/codec/hex.ts'
import { claimsHeader, proveAccount, proveAll, standardTreeDump } from '../../../snapshot/proof/prove.ts'
import { writeFileAtomic } from '../../fs/atomic.ts'
import { openCar } from '../open-car.ts'
import { required, UsageError, type Command } from '../command.ts'

export const proveCommand: Command = {
  name: 'prove',
  summary: 'OpenZeppelin-format Merkle proof of one account against the snapshot stateRoot, or a claims file with every account\'s proof.',
  usage: 'ark snapshot prove state.car --account 0x... [--out proof.json] | ark snapshot prove state.car --all --out proofs.json [--format claims|standard-v1]',
  options: {
    account: { type: 'string', description: "the account key, 0x-hex of the snapshot schema's key length (20 bytes for an address)" },
    all: { type: 'boolean', description: 'every account (needs --out)' },
    out: { type: 'string', description: 'output JSON file (written atomically)' },
    format: { type: 'string', description: "with --all: 'claims' (Ark's claims file, default) or 'standard-v1' (OpenZeppelin StandardMerkleTree dump, read by StandardMerkleTree.load)" },
  },
  positionals: [1, 1],
  async run({ values, positionals, io, signal }) {
    const s = await openCar(positionals[0]!)
    const out = values.out as string | undefined
    if (values.all === true) {
      if (values.account !== undefined) throw new UsageError('use either --account or --all')
      const path = resolve(required(values, 'out', this))
      const format = (values.format as string | undefined) ?? 'claims'
      if (format !== 'claims' && format !== 'standard-v1') throw new UsageError(`--format must be claims or standard-v1, got ${JSON.stringify(format)}`)
      const head = claimsHeader(s)
      const chunks = format === 'standard-v1' ? standardTreeDump(s) : (async function* () {
        yield `${JSON.stringify(head).slice(0, -1)},"claims":[\n`
        let first = true
        let buf = ''
        for await (const c of proveAll(s)) {
          buf += `${first ? '' : ',\n'}${JSON.stringify(c)}`
          first = false
          if (buf.length > 1 << 20) {
            yield buf
            buf = ''
          }
        }
        yield `${buf}\n]}\n`
      })()
      await writeFileAtomic(path, chunks, signal)
      io.stdout(`${JSON.stringify({ out: path, format, stateRoot: s.root.stateRoot, accounts: s.root.accountCount })}\n`)
      return
    }
    if (values.format !== undefined) throw new UsageError('--format goes with --all')
    // Keys are as long as the schema declares (an address, a 32-byte position id, …), not always 20 bytes.
    const key = hexToBytes(required(values, 'account', this), '--account', s.schema.keyLength)
    const proof = await proveAccount(s, key)
    const text = `${JSON.stringify(proof, null, 2)}\n`
    if (out !== undefined) await writeFileAtomic(resolve(out), [text], signal)
    else io.stdout(text)
  },
}
