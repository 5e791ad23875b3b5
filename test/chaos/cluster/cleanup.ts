import type { ChildProcess } from 'node:child_process'
import { execFileSync } from 'node:child_process'

/**
 * Everything a scenario starts that must not outlive it, even when the scenario throws or the
 * process exits early: child processes are SIGKILLed (after SIGCONT, a stopped process ignores
 * nothing but cannot exit either) and tmpfs mounts are unmounted from the exit hook, synchronously.
 */
const children = new Set<ChildProcess>()
const mounts = new Set<string>()
let hooked = false

function killAllNow(): void {
  for (const c of children) {
    if (c.exitCode !== null || c.signalCode !== null) continue
    try {
      c.kill('SIGCONT')
      c.kill('SIGKILL')
    } catch {
      // already gone
    }
  }
  for (const m of mounts) {
    try {
      execFileSync('umount', ['-l', m], { stdio: 'ignore' })
    } catch {
      // not mounted any more
    }
  }
}

function hook(): void {
  if (hooked) return
  hooked = true
  process.on('exit', killAllNow)
  for (const sig of ['SIGINT', 'SIGTERM'] as const)
    process.once(sig, () => {
      killAllNow()
      process.exit(130)
    })
}

export function track(c: ChildProcess): void {
  hook()
  children.add(c)
  c.once('exit', () => children.delete(c))
}

export function trackMount(dir: string): void {
  hook()
  mounts.add(dir)
}

export function untrackMount(dir: string): void {
  mounts.delete(dir)
}
