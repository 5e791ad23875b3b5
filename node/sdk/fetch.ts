/**
 * `ark/fetch`: fetch a quorum-certified snapshot (gateways, peers), open and verify one against
 * its certificate, and resolve adapter modules and record schemas the way the `ark` CLI does.
 */
export { fetchCertified, locateCertified, fetchLocated, parseBlockQuery, type FetchOptions, type Fetched, type CertifiedLocation } from '../recovery/fetch.ts'
export { openCertifiedSnapshot } from '../recovery/verify.ts'
export { fileTrust, fixedTrust, registryTrust, verifyAgainst, type TrustRoot } from '../recovery/trust.ts'
export { loadAdapter, loadAdapterModule, schemaFor, type AdapterModule, type ResolveOptions } from '../adapters/load.ts'
