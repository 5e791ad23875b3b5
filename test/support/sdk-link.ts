import { mkdir, symlink } from 'node:fs/promises'
import { join } from 'node:path'
import { REPO_ROOT } from '../../node/contracts/compile.ts'

/**
 * Make `ark` resolvable from a fixture package as `npm install ark` would (node_modules/ark -> the
 * package, resolved through its `exports`). Idempotent and left in place (git-ignored): test files
 * running in parallel share it.
 */
export async function linkSdk(packageDir: string): Promise<void> {
  await mkdir(join(packageDir, 'node_modules'), { recursive: true })
  await symlink(REPO_ROOT, join(packageDir, 'node_modules', 'ark'), 'dir').catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'EEXIST') throw err
  })
}
