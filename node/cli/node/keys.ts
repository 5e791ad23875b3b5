import { existsSync } from 'node:fs'
import { readFile, writeFile } from 'node:fs/promises'
import { resolve } from 'node:path'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { InvalidInputError } from '../../../snapshot/errors.ts'
import { encryptKeystore } from '../../keys/keystore.ts'
import { checkPrivateFile } from '../../fs/private-file.ts'
import { required, type Command } from '../command.ts'

export const keysNewCommand: Command = {
  name: 'new',
  summary: 'Create an operator key as an encrypted keystore (Web3 Secret Storage v3, mode 0600). Prints only the address.',
  usage: 'ark keys new --out keystore.json --password-file FILE [--json]',
  options: {
    out: { type: 'string', description: 'keystore path (must not exist)' },
    'password-file': { type: 'string', description: 'file holding the password (mode 0600); or set ARK_KEYSTORE_PASSWORD' },
  },
  async run({ values, json, io }) {
    const out = resolve(required(values, 'out', this))
    if (existsSync(out)) throw new InvalidInputError(`${out} already exists; refusing to overwrite a keystore (a lost key cannot be recovered). Choose another --out`)
    let password = process.env.ARK_KEYSTORE_PASSWORD
    const pwFile = values['password-file'] as string | undefined
    if (pwFile !== undefined) {
      await checkPrivateFile(pwFile, 'password file')
      password = (await readFile(pwFile, 'utf8')).replace(/\r?\n$/, '')
    }
    if (password === undefined || password.length < 8) throw new InvalidInputError('a password of at least 8 characters is required: --password-file FILE or ARK_KEYSTORE_PASSWORD')
    const key = generatePrivateKey()
    const ks = await encryptKeystore(key, password)
    // created 0600 from the first byte, and 'wx' never replaces a file that appeared meanwhile
    await writeFile(out, `${JSON.stringify(ks)}\n`, { mode: 0o600, flag: 'wx' })
    const address = privateKeyToAccount(key).address
    io.stdout(json ? `${JSON.stringify({ address, keystore: out })}\n` : `operator address ${address}\nkeystore ${out} (mode 0600)\n`)
  },
}
