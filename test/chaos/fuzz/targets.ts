import { decodeAlert } from '../../../protocol/alert.ts'
import { decodeAttestation, encodeAttestation } from '../../../protocol/attestation.ts'
import { certificateFrom, decodeCertificate, encodeCertificate } from '../../../protocol/certificate.ts'
import { decodeEmergency } from '../../../protocol/emergency.ts'
import { decodeEvidence, encodeEvidence } from '../../../protocol/evidence.ts'
import { validateAlert } from '../../../protocol/gossip/validate-alert.ts'
import { validateAttestation, validateCertificate, validateEvidence, type ValidatorContext } from '../../../protocol/gossip/validate.ts'
import { writeCar, readCar } from '../../../snapshot/car/car.ts'
import { CarStreamReader } from '../../../snapshot/car/stream.ts'
import { encodeBlock } from '../../../snapshot/codec/block.ts'
import { blockLinks } from '../../../snapshot/codec/links.ts'
import { ArkError } from '../../../snapshot/ark-error.ts'
import { MemoryBlockStore } from '../../../snapshot/store.ts'
import { ADAPTER_ID, body, CHAIN_ID, CONFIG_HASH, fourOperators, OP, sign, SNAPSHOT_B } from '../../protocol/support.ts'

/**
 * What the fuzzer feeds hostile bytes to: every gossip decoder and validator, the catch-up codec,
 * the CAR readers and the CBOR link walker. A target either returns (a validator's reject/ignore is
 * a return) or throws; `expected` says which throws are the target's documented refusals (ArkError
 * and its subclasses, the catch-up codec's own error). Anything else is a crash.
 */
export interface FuzzTarget {
  name: string
  /** valid encodings to mutate (random bytes are fed too) */
  seeds: Uint8Array[]
  run: (bytes: Uint8Array) => unknown
  expected: (err: unknown) => boolean
}

const arkError = (err: unknown): boolean => err instanceof ArkError

/** The catch-up codec lives in node/archive today and moves to protocol/ (the hardening work): find it where it is. */
async function catchupCodec(): Promise<{ decode: (b: Uint8Array) => unknown; encode: (from: bigint, limit?: number) => Uint8Array; isError: (e: unknown) => boolean }> {
  const candidates = ['../../../protocol/catchup.ts', '../../../protocol/catchup-codec.ts', '../../../node/archive/catchup.ts']
  for (const path of candidates) {
    const m = (await import(new URL(path, import.meta.url).href).catch(() => undefined)) as Record<string, unknown> | undefined
    if (m === undefined || typeof m.decodeCatchupRequest !== 'function' || typeof m.encodeCatchupRequest !== 'function') continue
    const Err = m.CatchupError as (new (...a: unknown[]) => Error) | undefined
    return { decode: m.decodeCatchupRequest as (b: Uint8Array) => unknown, encode: m.encodeCatchupRequest as (f: bigint, l?: number) => Uint8Array, isError: (e) => arkError(e) || (Err !== undefined && e instanceof Err) }
  }
  throw new Error(`catch-up codec not found in ${candidates.join(', ')}`)
}

export async function fuzzTargets(): Promise<FuzzTarget[]> {
  const b = body()
  const att = [await sign(b, OP[0]!), await sign(b, OP[1]!), await sign(b, OP[2]!)]
  const attBytes = att.map(encodeAttestation)
  const certBytes = encodeCertificate(certificateFrom(att)).bytes
  const other = await sign(body({ snapshotCid: SNAPSHOT_B }), OP[0]!)
  const evBytes = encodeEvidence({ a: att[0]!, b: other })
  const ctx: ValidatorContext = { chainId: CHAIN_ID, adapterId: ADAPTER_ID, configHash: CONFIG_HASH, operators: fourOperators(), finalizedHead: b.blockNumber + 10n, maxAheadBlocks: 100n, oldestBlock: 0n, schedule: { interval: 1n, first: 0n } }
  const store = new MemoryBlockStore()
  const blocks = [encodeBlock({ ark: 'fuzz', n: 1 }), encodeBlock({ ark: 'fuzz', n: 2, link: SNAPSHOT_B })]
  for (const x of blocks) store.put(x)
  const chunks: Uint8Array[] = []
  for await (const c of writeCar([blocks[0]!.cid], blocks.map((x) => x.cid), store)) chunks.push(c)
  const car = Buffer.concat(chunks)
  const catchup = await catchupCodec()
  const gossipSeeds = [...attBytes, certBytes, evBytes]
  const never = (): boolean => false
  return [
    { name: 'decodeAttestation', seeds: attBytes, run: decodeAttestation, expected: arkError },
    { name: 'decodeCertificate', seeds: [certBytes], run: decodeCertificate, expected: arkError },
    { name: 'decodeEvidence', seeds: [evBytes], run: decodeEvidence, expected: arkError },
    { name: 'decodeAlert', seeds: gossipSeeds, run: decodeAlert, expected: arkError },
    { name: 'decodeEmergency', seeds: gossipSeeds, run: decodeEmergency, expected: arkError },
    // validators never throw: every hostile input is a reject or an ignore
    { name: 'validateAttestation', seeds: attBytes, run: (x) => validateAttestation(x, ctx), expected: never },
    { name: 'validateCertificate', seeds: [certBytes], run: (x) => validateCertificate(x, ctx), expected: never },
    { name: 'validateEvidence', seeds: [evBytes], run: (x) => validateEvidence(x, ctx), expected: never },
    { name: 'validateAlert', seeds: gossipSeeds, run: (x) => validateAlert(x, { ...ctx, paramsHash: CONFIG_HASH }), expected: never },
    { name: 'catchupRequest', seeds: [catchup.encode(5n, 10), catchup.encode(0n)], run: catchup.decode, expected: catchup.isError },
    { name: 'readCar', seeds: [car], run: (x) => readCar(x), expected: arkError },
    {
      name: 'CarStreamReader',
      seeds: [car],
      run: (x) => {
        const r = new CarStreamReader()
        const cut = x.length >> 1
        r.push(x.subarray(0, cut))
        r.push(x.subarray(cut))
        r.end()
      },
      expected: arkError,
    },
    { name: 'blockLinks', seeds: [certBytes, ...blocks.map((x) => x.bytes)], run: (x) => blockLinks(blocks[1]!.cid, x), expected: arkError },
  ]
}
