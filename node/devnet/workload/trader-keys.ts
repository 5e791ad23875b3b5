import { createECDH } from 'node:crypto'
import { availableParallelism } from 'node:os'
import { Worker } from 'node:worker_threads'
import { keccak_256 } from '@noble/hashes/sha3.js'
import { getAddress, type Address, type Hex } from 'viem'

/** Trader i's private key: keccak256(abi.encode(uint256 seed, uint256 i)). */
export function traderKey(seed: bigint, i: number): Hex {
  if (seed < 0n || seed >= 1n << 256n) throw new RangeError(`seed must be a uint256, got ${seed}`)
  const word = (v: bigint): string => v.toString(16).padStart(64, '0')
  return `0x${Buffer.from(keccak_256(Buffer.from(word(seed) + word(BigInt(i)), 'hex'))).toString('hex')}`
}

/** The keeper's private key: keccak256("<seed hex>:keeper"). */
export function keeperKey(seed: bigint): Hex {
  return `0x${Buffer.from(keccak_256(Buffer.from(`${seed.toString(16)}:keeper`, 'utf8'))).toString('hex')}`
}

const ecdh = createECDH('secp256k1')
const addressOfPublicKey = (pub: Uint8Array): Address => getAddress(`0x${Buffer.from(keccak_256(pub.subarray(1)).subarray(12)).toString('hex')}`)

export function addressOfKey(key: Hex): Address {
  ecdh.setPrivateKey(Buffer.from(key.slice(2), 'hex'))
  return addressOfPublicKey(ecdh.getPublicKey())
}

// secp256k1 public keys cost ~0.5-1 ms each; large runs spread them over worker threads
const PUBKEY_WORKER = `
const { workerData, parentPort } = require('node:worker_threads')
const { createECDH } = require('node:crypto')
const ecdh = createECDH('secp256k1')
const keys = Buffer.from(workerData)
const out = Buffer.alloc((keys.length / 32) * 65)
for (let i = 0; i < keys.length / 32; i++) {
  ecdh.setPrivateKey(keys.subarray(32 * i, 32 * i + 32))
  ecdh.getPublicKey().copy(out, 65 * i)
}
parentPort.postMessage(out.buffer, [out.buffer])
`

/** Addresses of traders 0..n-1 for `seed` (see traderKey), in order. */
export async function traderAddresses(seed: bigint, n: number): Promise<Address[]> {
  const threads = n < 2_000 ? 1 : Math.min(availableParallelism(), 8)
  if (threads === 1) return Array.from({ length: n }, (_, i) => addressOfKey(traderKey(seed, i)))
  const per = Math.ceil(n / threads)
  const parts = await Promise.all(
    Array.from({ length: threads }, (_, w) => {
      const from = w * per
      const count = Math.max(0, Math.min(per, n - from))
      const keys = Buffer.alloc(32 * count)
      for (let i = 0; i < count; i++) Buffer.from(traderKey(seed, from + i).slice(2), 'hex').copy(keys, 32 * i)
      return new Promise<Buffer>((resolve, reject) => {
        const worker = new Worker(PUBKEY_WORKER, { eval: true, workerData: keys })
        worker.once('message', (buf: ArrayBuffer) => resolve(Buffer.from(buf)))
        worker.once('error', reject)
        worker.once('exit', (code) => {
          if (code !== 0) reject(new Error(`public key worker exited with ${code}`))
        })
      })
    }),
  )
  const out: Address[] = []
  for (const pubs of parts) for (let i = 0; i < pubs.length / 65; i++) out.push(addressOfPublicKey(pubs.subarray(65 * i, 65 * i + 65)))
  return out
}
