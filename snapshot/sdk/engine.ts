/**
 * `ark/snapshot`: the snapshot engine — derive a checkpoint with an adapter, build or patch a
 * snapshot, open and verify one, read and write CARs, prove and verify an account.
 */
export { CheckpointCache, configHash, deriveCheckpoint, DERIVE_DEFAULTS, type Checkpoint, type DeriveOptions, type DeriveStats } from '../derive/derive.ts'
export { applyChanges, buildSnapshot, keyBytes, type BuildOptions, type ChangeInput, type RecordInput } from '../state/build.ts'
export { Snapshot, type VerifyOptions } from '../state/snapshot.ts'
export { decodeRoot, type SnapshotMeta } from '../state/root.ts'
export { MemoryBlockStore, type BlockStore } from '../store.ts'
export { readCar, writeCar, type CarContents } from '../car/car.ts'
export { proveAccount } from '../proof/prove.ts'
export { verifyAccountProof, ProofInvalidError } from '../proof/verify.ts'
export type { AccountProof } from '../proof/format.ts'
export { ChainSource, type ChainSourceOptions, type Finality } from '../chain/source.ts'
export { schemaById, schemaKey, schemas as builtinSchemas } from '../schema/registry.ts'
export { adapters as builtinAdapters } from '../adapters/registry.ts'
