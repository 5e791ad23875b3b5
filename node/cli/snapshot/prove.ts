import { resolve } from 'node:path'
import { addressToBytes } from '../../../snapshot/codec/hex.ts'
import { claimsHeader, proveAccount, proveAll } from '../../../snapshot/proof/prove.ts'
import { writeFileAtomic } from '../../fs/atomic.ts'
import { openCar } from '../open-car.ts'
import { required, UsageError, type Command } from '../command.ts'

export const proveCommand: Command = {
  name: 'prove',
  summary: 'OpenZeppelin-format Merkle proof of one account against the snapshot stateRoot, or a claims file with every account\'s proof.',
  usage: 'ark snapshot prove state.car --account 0x... [--out proof.json] | ark snapshot prove state.car --all --out proofs.json',
  options: {
    account: { type: 'string', description: 'the account address (20 bytes, 0x-hex)' },
    all: { type: 'boolean', description: 'every account (needs --out)' },
    out: { type: 'string', description: 'output JSON file (written atomically)' },
  },
  positionals: [1, 1],
  async run({ values, positionals, io, signal }) {
    const s = await openCar(positionals[0]!)
    const out = values.out as string | undefined
    if (values.all === true) {
      if (values.account !== undefined) throw new UsageError('use either --account or --all')
      const path = resolve(required(values, 'out', this))
      const head = claimsHeader(s)
      const chunks = (async function* () {
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
      io.stdout(`${JSON.stringify({ out: path, stateRoot: s.root.stateRoot, accounts: s.root.accountCount })}\n`)
      return
    }
    const key = addressToBytes(required(values, 'account', this), '--account')
    const proof = await proveAccount(s, key)
    const text = `${JSON.stringify(proof, null, 2)}\n`
    if (out !== undefined) await writeFileAtomic(resolve(out), [text], signal)
    else io.stdout(text)
  },
}
