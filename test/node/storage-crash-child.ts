/**
 * A process for the storage crash tests to kill (SIGKILL) midway:
 * `migrate DATADIR` runs the blockstore migration on DATADIR;
 * `write DIR SEED` puts blocks into a DiskBlockstore at DIR forever, printing
 * `acked N` after every 50 acknowledged puts (block i is `seed:i` as dag-cbor).
 */
import { join } from 'node:path'
import { pino } from 'pino'
import { encodeBlock } from '../../snapshot/codec/block.ts'
import { migrateFsBlocks } from '../../node/p2p/blockstore-migration.ts'
import { BLOCKSTORE_DIR, DiskBlockstore } from '../../node/p2p/disk-blockstore.ts'

const [mode, dir, seed] = process.argv.slice(2)
if (mode === 'migrate') {
  const store = new DiskBlockstore(join(dir!, BLOCKSTORE_DIR))
  await store.open()
  await migrateFsBlocks(dir!, store, pino(pino.destination(1)))
  await store.close()
} else if (mode === 'write') {
  const store = new DiskBlockstore(dir!)
  await store.open()
  for (let i = 0; ; i++) {
    const b = encodeBlock(`${seed}:${i}:${'x'.repeat(i % 2000)}`)
    await store.put(b.cid, b.bytes)
    if (i % 50 === 49) process.stdout.write(`acked ${i + 1}\n`)
  }
} else {
  process.stderr.write('usage: storage-crash-child.ts migrate DATADIR | write DIR SEED\n')
  process.exit(2)
}
