import { readFile } from 'node:fs/promises'
import { privateKeyToAccount, type PrivateKeyAccount } from 'viem/accounts'
import { InvalidInputError } from '../../snapshot/errors.ts'
import { checkPrivateFile } from '../fs/private-file.ts'
import { decryptKeystore } from '../keys/keystore.ts'
import { localSigner, RemoteSigner, type OperatorSigner } from '../keys/remote-signer.ts'
import type { NodeConfig } from './config.ts'

// the one secret-file check lives in node/fs/private-file.ts; re-exported for existing importers
export { checkPrivateFile } from '../fs/private-file.ts'

type LocalKey = Exclude<NodeConfig['key'], { remote: unknown }>

/**
 * The operator's signer: a remote JSON-RPC signer (checked to answer and to
 * hold the address before the node starts) or the local key below.
 */
export async function loadOperatorSigner(cfg: NodeConfig['key'], options: { devKey: boolean; env?: NodeJS.ProcessEnv; signal?: AbortSignal }): Promise<OperatorSigner> {
  if ('remote' in cfg) {
    const signer = new RemoteSigner(cfg.remote)
    await signer.check(options.signal)
    return signer
  }
  return localSigner(await loadOperatorKey(cfg, options), 'devPrivateKeyFile' in cfg ? 'development key file' : 'keystore')
}

/**
 * The password variables of another key (the guardian's ARK_GUARDIAN_PASSWORD[_FILE], the relayer's
 * ARK_RELAYER_PASSWORD[_FILE]) as the names loadOperatorKey reads; the operator's own are not passed on.
 */
export function passwordEnvOf(env: NodeJS.ProcessEnv, prefix: string): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {}
  if (env[`${prefix}_PASSWORD`] !== undefined) out.ARK_KEYSTORE_PASSWORD = env[`${prefix}_PASSWORD`]
  if (env[`${prefix}_PASSWORD_FILE`] !== undefined) out.ARK_KEYSTORE_PASSWORD_FILE = env[`${prefix}_PASSWORD_FILE`]
  return out
}

/**
 * The operator key: an encrypted keystore unlocked by ARK_KEYSTORE_PASSWORD,
 * ARK_KEYSTORE_PASSWORD_FILE or the config's passwordFile; a plain key file
 * only with the explicit development flag. Never logged.
 */
export async function loadOperatorKey(cfg: LocalKey, options: { devKey: boolean; env?: NodeJS.ProcessEnv }): Promise<PrivateKeyAccount> {
  const env = options.env ?? process.env
  if ('devPrivateKeyFile' in cfg) {
    if (!options.devKey) throw new InvalidInputError('the config uses a plain devPrivateKeyFile; that is for development only: pass --dev-key to accept it, or use an encrypted keystore ("ark keys new")')
    await checkPrivateFile(cfg.devPrivateKeyFile, 'development key file')
    const key = (await readFile(cfg.devPrivateKeyFile, 'utf8')).trim()
    if (!/^0x[0-9a-fA-F]{64}$/.test(key)) throw new InvalidInputError(`development key file ${cfg.devPrivateKeyFile} must hold one 0x-prefixed 32-byte hex key`)
    return privateKeyToAccount(key as `0x${string}`)
  }
  await checkPrivateFile(cfg.keystore, 'keystore')
  let password = env.ARK_KEYSTORE_PASSWORD
  const pwFile = env.ARK_KEYSTORE_PASSWORD_FILE ?? cfg.passwordFile
  if (password === undefined && pwFile !== undefined) {
    await checkPrivateFile(pwFile, 'password file')
    password = (await readFile(pwFile, 'utf8')).replace(/\r?\n$/, '')
  }
  if (password === undefined) throw new InvalidInputError('no keystore password: set ARK_KEYSTORE_PASSWORD or ARK_KEYSTORE_PASSWORD_FILE, or "key.passwordFile" in the config')
  return decryptKeystore(JSON.parse(await readFile(cfg.keystore, 'utf8')), password)
}
