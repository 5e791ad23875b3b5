/**
 * Loading the operator key (node/archive/operator-key.ts): secrets must be
 * private files, the keystore password comes from the env or a private
 * password file, and a plain key file needs the explicit --dev-key flag.
 */
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { privateKeyToAccount } from 'viem/accounts'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { loadOperatorKey } from '../../node/archive/operator-key.ts'
import { checkPrivateFile } from '../../node/fs/private-file.ts'
import { encryptKeystore, KeystoreError, type KeystoreV3 } from '../../node/keys/keystore.ts'
import { ArkError } from '../../snapshot/ark-error.ts'
import { InvalidInputError } from '../../snapshot/errors.ts'

const KEY = '0x8da4ef21b864d2cc526dbdb2a120bd2874c36c9d0a1fb7f8c63d7f7a8b41de8f' as const
const ADDRESS = privateKeyToAccount(KEY).address
const PASSWORD = 'operator key password'

let keystore: KeystoreV3
beforeAll(async () => {
  keystore = await encryptKeystore(KEY, PASSWORD, { n: 1024 })
})

const dirs: string[] = []
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })))
})

async function dir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'ark-opkey-'))
  dirs.push(d)
  return d
}

async function file(d: string, name: string, content: string, mode: number): Promise<string> {
  const p = join(d, name)
  await writeFile(p, content)
  await chmod(p, mode)
  return p
}

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p
  } catch (err) {
    return err as Error
  }
  throw new Error('expected a rejection')
}

describe('checkPrivateFile', () => {
  it('accepts 0600 and 0400, refuses group/other bits with a chmod hint', async () => {
    const d = await dir()
    await expect(checkPrivateFile(await file(d, 'a', 'x', 0o600), 'secret')).resolves.toBe(true)
    await expect(checkPrivateFile(await file(d, 'b', 'x', 0o400), 'secret')).resolves.toBe(true)
    for (const mode of [0o644, 0o640, 0o604, 0o660]) {
      const p = await file(d, `m${mode.toString(8)}`, 'x', mode)
      const err = await rejection(checkPrivateFile(p, 'secret'))
      expect(err).toBeInstanceOf(ArkError)
      expect(err.message).toContain(`chmod 600 ${p}`)
      expect(err.message).toContain(`mode ${mode.toString(8)}`)
    }
  })

  it('a missing file is an IO error naming the path and the errno code', async () => {
    const p = join(await dir(), 'absent')
    const err = await rejection(checkPrivateFile(p, 'keystore'))
    expect((err as ArkError).code).toBe('IO')
    expect(err.message).toContain(p)
    expect(err.message).toContain('ENOENT')
  })

  it('optional: a missing file resolves false; the refusal can be the caller\'s error and says what is at risk', async () => {
    const d = await dir()
    await expect(checkPrivateFile(join(d, 'absent'), 'token', { optional: true })).resolves.toBe(false)
    class MyError extends Error {}
    const p = await file(d, 'open', 'x', 0o644)
    const err = await rejection(checkPrivateFile(p, 'token', { optional: true, risk: 'anyone could call the admin API', refuse: (m) => new MyError(m) }))
    expect(err).toBeInstanceOf(MyError)
    expect(err.message).toBe(`token ${p} has mode 644: group or others can access it, so anyone could call the admin API. Restrict it with "chmod 600 ${p}" and start again`)
  })
})

describe('loadOperatorKey', () => {
  it('refuses a keystore readable by others (0644) with a chmod 600 hint, before asking for the password', async () => {
    const d = await dir()
    const ks = await file(d, 'keystore.json', JSON.stringify(keystore), 0o644)
    const err = await rejection(loadOperatorKey({ keystore: ks }, { devKey: false, env: { ARK_KEYSTORE_PASSWORD: PASSWORD } }))
    expect(err.message).toContain('chmod 600')
    expect(err.message).toContain(ks)
  })

  it('loads a 0600 keystore with ARK_KEYSTORE_PASSWORD from the env object', async () => {
    const d = await dir()
    const ks = await file(d, 'keystore.json', JSON.stringify(keystore), 0o600)
    const account = await loadOperatorKey({ keystore: ks }, { devKey: false, env: { ARK_KEYSTORE_PASSWORD: PASSWORD } })
    expect(account.address).toBe(ADDRESS)
  })

  it('loads with the config passwordFile (0600), dropping one trailing newline', async () => {
    const d = await dir()
    const ks = await file(d, 'keystore.json', JSON.stringify(keystore), 0o600)
    const pw = await file(d, 'pw', `${PASSWORD}\n`, 0o600)
    expect((await loadOperatorKey({ keystore: ks, passwordFile: pw }, { devKey: false, env: {} })).address).toBe(ADDRESS)
    const crlf = await file(d, 'pw-crlf', `${PASSWORD}\r\n`, 0o600)
    expect((await loadOperatorKey({ keystore: ks, passwordFile: crlf }, { devKey: false, env: {} })).address).toBe(ADDRESS)
  })

  it('ARK_KEYSTORE_PASSWORD_FILE overrides the config passwordFile; ARK_KEYSTORE_PASSWORD overrides both', async () => {
    const d = await dir()
    const ks = await file(d, 'keystore.json', JSON.stringify(keystore), 0o600)
    const wrong = await file(d, 'wrong', 'not it', 0o600)
    const right = await file(d, 'right', PASSWORD, 0o600)
    expect((await loadOperatorKey({ keystore: ks, passwordFile: wrong }, { devKey: false, env: { ARK_KEYSTORE_PASSWORD_FILE: right } })).address).toBe(ADDRESS)
    expect((await loadOperatorKey({ keystore: ks, passwordFile: wrong }, { devKey: false, env: { ARK_KEYSTORE_PASSWORD: PASSWORD, ARK_KEYSTORE_PASSWORD_FILE: wrong } })).address).toBe(ADDRESS)
  })

  it('refuses a password file readable by others (0644)', async () => {
    const d = await dir()
    const ks = await file(d, 'keystore.json', JSON.stringify(keystore), 0o600)
    const pw = await file(d, 'pw', PASSWORD, 0o644)
    const err = await rejection(loadOperatorKey({ keystore: ks, passwordFile: pw }, { devKey: false, env: {} }))
    expect(err.message).toMatch(/^password file /)
    expect(err.message).toContain(`chmod 600 ${pw}`)
    expect(err.message).not.toContain(PASSWORD)
  })

  it('without any password source: a clear error naming the options', async () => {
    const d = await dir()
    const ks = await file(d, 'keystore.json', JSON.stringify(keystore), 0o600)
    const err = await rejection(loadOperatorKey({ keystore: ks }, { devKey: false, env: {} }))
    expect(err).toBeInstanceOf(InvalidInputError)
    expect(err.message).toMatch(/ARK_KEYSTORE_PASSWORD/)
  })

  it('a wrong password is a KeystoreError that does not leak the key or the password', async () => {
    const d = await dir()
    const ks = await file(d, 'keystore.json', JSON.stringify(keystore), 0o600)
    const err = await rejection(loadOperatorKey({ keystore: ks }, { devKey: false, env: { ARK_KEYSTORE_PASSWORD: 'guess guess' } }))
    expect(err).toBeInstanceOf(KeystoreError)
    expect(`${err.message}${JSON.stringify(err)}`).not.toMatch(new RegExp(`${KEY.slice(2)}|guess guess`))
  })

  it('refuses a devPrivateKeyFile without devKey, pointing at --dev-key', async () => {
    const d = await dir()
    const dev = await file(d, 'dev.key', KEY, 0o600)
    const err = await rejection(loadOperatorKey({ devPrivateKeyFile: dev }, { devKey: false, env: {} }))
    expect(err).toBeInstanceOf(InvalidInputError)
    expect(err.message).toContain('--dev-key')
    expect(err.message).not.toContain(KEY.slice(2))
  })

  it('loads a devPrivateKeyFile (0600, trailing newline) with devKey', async () => {
    const d = await dir()
    const dev = await file(d, 'dev.key', `${KEY}\n`, 0o600)
    expect((await loadOperatorKey({ devPrivateKeyFile: dev }, { devKey: true, env: {} })).address).toBe(ADDRESS)
  })

  it('with devKey still refuses a world-readable or malformed dev key file, without echoing it', async () => {
    const d = await dir()
    const open = await file(d, 'open.key', KEY, 0o644)
    expect((await rejection(loadOperatorKey({ devPrivateKeyFile: open }, { devKey: true, env: {} }))).message).toContain('chmod 600')
    const noPrefix = await file(d, 'noprefix.key', KEY.slice(2), 0o600)
    const err = await rejection(loadOperatorKey({ devPrivateKeyFile: noPrefix }, { devKey: true, env: {} }))
    expect(err).toBeInstanceOf(InvalidInputError)
    expect(err.message).toMatch(/0x-prefixed 32-byte hex key/)
    expect(err.message).not.toContain(KEY.slice(2))
  })
})
