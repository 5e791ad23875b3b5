import { createCipheriv, createDecipheriv, randomBytes, randomUUID, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto'
import { privateKeyToAccount, type PrivateKeyAccount } from 'viem/accounts'
import { keccak256 } from '../../snapshot/codec/keccak.ts'
import { ArkError } from '../../snapshot/ark-error.ts'

/** Web3 Secret Storage v3 (the Ethereum keystore format): scrypt + aes-128-ctr + keccak MAC. */
export interface KeystoreV3 {
  version: 3
  id: string
  address: string
  crypto: {
    cipher: 'aes-128-ctr'
    ciphertext: string
    cipherparams: { iv: string }
    kdf: 'scrypt'
    kdfparams: { dklen: number; n: number; r: number; p: number; salt: string }
    mac: string
  }
}

export const KEYSTORE_DEFAULTS = Object.freeze({ n: 1 << 18, r: 8, p: 1, dklen: 32 })

/** OpenSSL's scrypt refuses some valid parameter sets (e.g. r=1 with large N, as in the spec's own test vector): fall back to a JS scrypt then. */
function scrypt(password: string, salt: Buffer, keylen: number, opts: ScryptOptions): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => scryptCb(password, salt, keylen, { ...opts, maxmem: 1100 * 1024 * 1024 }, (err, key) => (err ? reject(err) : resolve(key)))).catch(async () => {
    const { scryptAsync } = await import('@noble/hashes/scrypt.js')
    return Buffer.from(await scryptAsync(password, salt, { N: opts.N!, r: opts.r!, p: opts.p!, dkLen: keylen, maxmem: 1100 * 1024 * 1024 }))
  })
}

export class KeystoreError extends ArkError {
  override readonly name = 'KeystoreError'
  constructor(message: string) {
    super('INVALID_INPUT', message)
  }
}

export async function encryptKeystore(privateKey: `0x${string}`, password: string, params: Partial<typeof KEYSTORE_DEFAULTS> = {}): Promise<KeystoreV3> {
  const kp = { ...KEYSTORE_DEFAULTS, ...params }
  const salt = randomBytes(32)
  const iv = randomBytes(16)
  const dk = await scrypt(password, salt, kp.dklen, { N: kp.n, r: kp.r, p: kp.p })
  const cipher = createCipheriv('aes-128-ctr', dk.subarray(0, 16), iv)
  const ciphertext = Buffer.concat([cipher.update(Buffer.from(privateKey.slice(2), 'hex')), cipher.final()])
  const mac = keccak256(Buffer.concat([dk.subarray(16, 32), ciphertext]))
  return {
    version: 3,
    id: randomUUID(),
    address: privateKeyToAccount(privateKey).address.slice(2).toLowerCase(),
    crypto: { cipher: 'aes-128-ctr', ciphertext: ciphertext.toString('hex'), cipherparams: { iv: iv.toString('hex') }, kdf: 'scrypt', kdfparams: { ...kp, salt: salt.toString('hex') }, mac: Buffer.from(mac).toString('hex') },
  }
}

/** Decrypt; a wrong password is detected by the MAC, never by a garbage key. The key never appears in errors. */
export async function decryptKeystore(json: unknown, password: string): Promise<PrivateKeyAccount> {
  const k = json as KeystoreV3
  if (k?.version !== 3 || k.crypto?.kdf !== 'scrypt' || k.crypto.cipher !== 'aes-128-ctr') throw new KeystoreError('keystore must be Web3 Secret Storage v3 with scrypt and aes-128-ctr (create one with "ark keys new")')
  const { n, r, p, dklen, salt } = k.crypto.kdfparams
  if (dklen !== 32 || !Number.isInteger(n) || n < 2 || (n & (n - 1)) !== 0 || n > 1 << 20 || !Number.isInteger(r) || r < 1 || r > 32 || !Number.isInteger(p) || p < 1 || p > 16 || 128 * n * r > 1024 * 1024 * 1024) {
    throw new KeystoreError('keystore scrypt parameters are unsupported (dklen must be 32, n at most 2^20 and a power of two, r 1-32, p 1-16, at most 1 GiB of memory)')
  }
  const dk = await scrypt(password, Buffer.from(salt, 'hex'), dklen, { N: n, r, p })
  const ciphertext = Buffer.from(k.crypto.ciphertext, 'hex')
  const mac = Buffer.from(keccak256(Buffer.concat([dk.subarray(16, 32), ciphertext])))
  const want = Buffer.from(k.crypto.mac, 'hex')
  if (want.length !== mac.length || !timingSafeEqual(mac, want)) throw new KeystoreError('wrong keystore password (MAC mismatch); check the password file or ARK_KEYSTORE_PASSWORD')
  const d = createDecipheriv('aes-128-ctr', dk.subarray(0, 16), Buffer.from(k.crypto.cipherparams.iv, 'hex'))
  const key = `0x${Buffer.concat([d.update(ciphertext), d.final()]).toString('hex')}` as `0x${string}`
  const account = privateKeyToAccount(key)
  if (typeof k.address === 'string' && k.address.length > 0 && account.address.slice(2).toLowerCase() !== k.address.toLowerCase().replace(/^0x/, '')) {
    throw new KeystoreError('keystore address does not match its decrypted key; the file is corrupt')
  }
  return account
}
