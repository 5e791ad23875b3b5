import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

/** What this build is: package.json's version and, when known, the git commit (ARK_COMMIT, else `git rev-parse` of the checkout). */
export interface BuildInfo {
  version: string
  /** short commit hash; '' when neither ARK_COMMIT nor a git checkout tells */
  commit: string
}

const ROOT = fileURLToPath(new URL('../', import.meta.url))
let cached: BuildInfo | undefined

function gitCommit(): string {
  try {
    return execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], { cwd: ROOT, timeout: 2_000, stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim()
  } catch {
    // no git, or not a checkout (an installed package, a container image without .git)
    return ''
  }
}

export function buildInfo(env: NodeJS.ProcessEnv = process.env): BuildInfo {
  if (cached !== undefined) return cached
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: unknown }
  const version = typeof pkg.version === 'string' ? pkg.version : '0.0.0'
  const fromEnv = env.ARK_COMMIT ?? ''
  // a commit id is hex; anything else in the variable is not shown (it could be anything an operator pasted)
  const commit = /^[0-9a-f]{7,40}$/i.test(fromEnv) ? fromEnv.toLowerCase() : gitCommit()
  cached = { version, commit: /^[0-9a-f]{7,40}$/.test(commit) ? commit : '' }
  return cached
}
