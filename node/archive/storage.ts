import type { Service } from '../p2p/service.ts'
import type { SignLog } from '../signlog/signlog.ts'
import type { CertificateStore } from './certificate-store.ts'
import type { EvidenceStore } from './evidence-store.ts'

export interface StorageInit {
  signLog: SignLog
  certificates: CertificateStore
  evidence: EvidenceStore
}

/**
 * The node's files as one service: opens the sign log, the certificate store
 * and the evidence store at start; at stop closes the sign log, lets evidence
 * writes finish, then lets go of the data directory (`release`, the lock).
 */
export const storageService =
  (init: StorageInit) =>
  (components: { release: () => Promise<void> }): Service => ({
    name: 'storage',
    async start() {
      init.signLog.open()
      await init.certificates.open()
      await init.evidence.open()
    },
    async stop() {
      init.signLog.close()
      await init.evidence.flush()
      await components.release()
    },
  })
