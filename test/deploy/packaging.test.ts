/**
 * What this machine can verify of deploy/ (no Docker engine, no systemd as
 * PID 1, no Kubernetes here): the systemd unit passes `systemd-analyze
 * verify` without a warning; the compose file and the Kubernetes manifests
 * parse and hold what they promise (four nodes + anvil + Prometheus +
 * Grafana; a one-replica StatefulSet with a volume, probes on /healthz and
 * /readyz, non-root, a ServiceMonitor); every file starts the node with the
 * same command line, accepted by `ark node start`, and environment variables
 * the node reads; and a node started exactly as compose starts it (its
 * config, flags and environment, against a real anvil) comes up and serves.
 */
import { execFile, spawn } from 'node:child_process'
import { mkdtemp, mkdir, readFile, rm, writeFile, copyFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { afterAll, describe, expect, it } from 'vitest'
import { parseAllDocuments } from 'yaml'
import { parse } from '../../node/cli/command.ts'
import { nodeStartCommand } from '../../node/cli/node/start.ts'
import { startChain, type ChainFixture } from '../support/chain.ts'
import { until } from '../support/archive-cluster.ts'

const root = fileURLToPath(new URL('../../', import.meta.url))
const text = (p: string): Promise<string> => readFile(join(root, p), 'utf8')
const run = promisify(execFile)

/** the environment variables the node reads (ARK_LOG_LEVEL/ARK_HTTP_HOST arrive with the observability work) */
const NODE_ENV_VARS = new Set(['NODE_ENV', 'ARK_DATA_DIR', 'ARK_HTTP_PORT', 'ARK_RPC_URLS', 'ARK_KEYSTORE_PASSWORD', 'ARK_KEYSTORE_PASSWORD_FILE', 'ARK_LOG_LEVEL', 'ARK_HTTP_HOST'])

function yamlDocs(source: string): Record<string, unknown>[] {
  const docs = parseAllDocuments(source, { merge: true, uniqueKeys: true })
  for (const d of docs) expect(d.errors.map(String)).toEqual([])
  return docs.map((d) => d.toJS() as Record<string, unknown>)
}

async function systemdAnalyze(): Promise<boolean> {
  try {
    await run('systemd-analyze', ['--version'])
    return true
  } catch {
    return false
  }
}
const haveSystemd = await systemdAnalyze()
if (!haveSystemd) console.warn('skipping the systemd unit check: systemd-analyze is not installed here')

describe('deploy/ packaging', () => {
  it.skipIf(!haveSystemd)('the systemd unit passes systemd-analyze verify with no warning', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ark-unit-'))
    try {
      await copyFile(join(root, 'deploy/systemd/ark-node.service'), join(dir, 'ark-node.service'))
      const r = await run('systemd-analyze', ['verify', join(dir, 'ark-node.service')]).catch((e: { code: number; stderr: string }) => e)
      expect(r.stderr.trim()).toBe('')
      // the check can fail: a key in the wrong section is reported
      await writeFile(join(dir, 'ark-node.service'), (await text('deploy/systemd/ark-node.service')).replace('[Service]\n', '[Service]\nStartLimitIntervalSec=300\n'))
      const bad = await run('systemd-analyze', ['verify', join(dir, 'ark-node.service')]).catch((e: { code: number; stderr: string }) => e)
      expect(bad.stderr).toMatch(/Unknown key .*StartLimitIntervalSec/)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('compose: four nodes, anvil, Prometheus, Grafana; nodes read-only, no capabilities, started after setup', async () => {
    const [compose] = yamlDocs(await text('deploy/compose/compose.yaml'))
    const services = compose!.services as Record<string, Record<string, unknown>>
    expect(Object.keys(services).sort()).toEqual(['anvil', 'grafana', 'load', 'node0', 'node1', 'node2', 'node3', 'prometheus', 'setup'])
    for (let i = 0; i < 4; i++) {
      const n = services[`node${i}`]!
      expect(n.command).toEqual(['node', 'start', '--config', `/setup/node${i}/config.json`, '--dev-key'])
      expect(n).toMatchObject({ read_only: true, cap_drop: ['ALL'], depends_on: { setup: { condition: 'service_completed_successfully' } } })
      expect(n.volumes).toEqual(['setup:/setup:ro', `data${i}:/var/lib/ark`])
    }
    const prom = yamlDocs(await text('deploy/compose/prometheus.yml'))[0]!
    expect(JSON.stringify(prom)).toContain('node3:9545')
  })

  it('kubernetes: a one-replica StatefulSet with a volume, /healthz and /readyz probes, non-root, read-only; a ServiceMonitor', async () => {
    const docs = yamlDocs(await text('deploy/k8s/ark-node.yaml'))
    expect(docs.map((d) => d.kind)).toEqual(['Service', 'StatefulSet', 'ServiceMonitor'])
    const sts = docs[1] as { spec: { replicas: number; volumeClaimTemplates: { metadata: { name: string } }[]; template: { spec: { securityContext: Record<string, unknown>; containers: Record<string, unknown>[]; volumes: { secret?: { defaultMode: number } }[] } } } }
    expect(sts.spec.replicas).toBe(1)
    expect(sts.spec.volumeClaimTemplates[0]!.metadata.name).toBe('data')
    const c = sts.spec.template.spec.containers[0] as { args: string[]; readinessProbe: { httpGet: { path: string } }; livenessProbe: { httpGet: { path: string } }; volumeMounts: { name: string; mountPath: string }[]; securityContext: Record<string, unknown> }
    expect(c.readinessProbe.httpGet.path).toBe('/readyz')
    expect(c.livenessProbe.httpGet.path).toBe('/healthz')
    expect(c.volumeMounts).toContainEqual({ name: 'data', mountPath: '/var/lib/ark' })
    expect(sts.spec.template.spec.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 10001 })
    expect(c.securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false })
    // 0400 (256): the node refuses a secret that group or others may read
    expect(sts.spec.template.spec.volumes.find((v) => v.secret !== undefined)!.secret!.defaultMode).toBe(0o400)
    expect((docs[2] as { spec: { endpoints: { path: string }[] } }).spec.endpoints[0]!.path).toBe('/metrics')
  })

  it('Dockerfile, compose, systemd and Kubernetes start the node with one command line that ark node start accepts, and only variables the node reads', async () => {
    const dockerfile = await text('deploy/Dockerfile')
    expect(dockerfile.match(/^FROM /gm)!.length).toBeGreaterThanOrEqual(2)
    expect(dockerfile).toMatch(/^USER 10001:10001$/m)
    expect(dockerfile).toMatch(/^HEALTHCHECK [^\n]*\n[^\n]*\/readyz/m)
    const json = (directive: string): string[] => JSON.parse(new RegExp(`^${directive} (\\[.*\\])$`, 'm').exec(dockerfile)![1]!) as string[]
    expect(json('ENTRYPOINT')).toEqual(['node', 'node/cli/bin.js'])
    const unit = await text('deploy/systemd/ark-node.service')
    const exec = /^ExecStart=\/usr\/bin\/node \/opt\/ark\/node\/cli\/bin\.js (.*)$/m.exec(unit)![1]!.split(' ')
    const compose = (yamlDocs(await text('deploy/compose/compose.yaml'))[0]!.services as Record<string, { command: string[]; environment?: Record<string, string> }>)
    const k8s = yamlDocs(await text('deploy/k8s/ark-node.yaml'))[1] as { spec: { template: { spec: { containers: { args: string[]; env: { name: string }[] }[] } } } }
    const argvs = { docker: json('CMD'), systemd: exec, compose: compose.node0!.command, k8s: k8s.spec.template.spec.containers[0]!.args }
    for (const [where, argv] of Object.entries(argvs)) {
      expect(argv.slice(0, 2), where).toEqual(['node', 'start'])
      const { values } = parse(nodeStartCommand, argv.slice(2))
      expect(typeof values.config, where).toBe('string')
    }
    const envs = [...dockerfile.matchAll(/\b(ARK_[A-Z_]+|NODE_ENV)=/g)].map((m) => m[1]!)
    envs.push(...[...unit.matchAll(/^Environment=([A-Z_]+)=/gm)].map((m) => m[1]!))
    envs.push(...Object.keys(compose.node0!.environment ?? {}), ...k8s.spec.template.spec.containers[0]!.env.map((e) => e.name))
    expect(envs.filter((e) => !NODE_ENV_VARS.has(e))).toEqual([])
    expect(envs.length).toBeGreaterThan(6)
  })

  describe('a node started as compose starts it', () => {
    let chain: ChainFixture | undefined
    let dir = ''
    afterAll(async () => {
      await chain?.stop()
      if (dir !== '') await rm(dir, { recursive: true, force: true })
    })

    it('comes up with the compose config, flags and environment, serves /healthz and stops cleanly on SIGTERM', { timeout: 120_000 }, async () => {
      chain = await startChain()
      dir = await mkdtemp(join(tmpdir(), 'ark-compose-node-'))
      const setup = join(dir, 'setup')
      // compose's setup service, as compose runs it (one node here)
      const setupArgv = (yamlDocs(await text('deploy/compose/compose.yaml'))[0]!.services as Record<string, { command: string[] }>).setup!.command
      await mkdir(setup)
      await run(process.execPath, [join(root, setupArgv[1]!), ...setupArgv.slice(2).map((a) => a.replace('http://anvil:8545', chain!.anvil.rpcUrl).replace(/^\/setup$/, setup).replace(/^\/data$/, join(dir, 'volumes'))).map((a, i, all) => (all[i - 1] === '--nodes' ? '1' : a))], { cwd: root })
      const configFile = join(setup, 'node0', 'config.json')
      const config = JSON.parse(await readFile(configFile, 'utf8')) as { p2p: { listen: string[] } }
      expect(config.p2p.listen).toEqual(['/ip4/0.0.0.0/tcp/4001'])
      // the one change: loopback and a free port instead of the container's 0.0.0.0:4001
      config.p2p.listen = ['/ip4/127.0.0.1/tcp/0']
      await writeFile(configFile, JSON.stringify(config))
      const compose = (yamlDocs(await text('deploy/compose/compose.yaml'))[0]!.services as Record<string, { command: string[]; environment: Record<string, string> }>).node0!
      const argv = compose.command.map((a) => a.replace('/setup', setup))
      // the compose environment, with the data volume at a temporary path and port 0 (a free one)
      const env = { ...process.env, ...compose.environment, ARK_DATA_DIR: join(dir, 'volumes', 'node0'), ARK_HTTP_PORT: '0' }
      const child = spawn(process.execPath, [join(root, 'node/cli/bin.js'), ...argv], { env, stdio: ['ignore', 'pipe', 'pipe'] })
      let out = ''
      let err = ''
      child.stdout.on('data', (b: Buffer) => (out += b.toString()))
      child.stderr.on('data', (b: Buffer) => (err += b.toString()))
      const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)))
      try {
        const started = await until('the node started', () => out.split('\n').find((l) => l.includes('"event":"started"')) ?? (child.exitCode !== null ? `exited: ${err}` : undefined), 90_000)
        expect(started).toContain('"event":"started"')
        const http = (JSON.parse(started) as { http: string }).http
        expect(http).toMatch(/^http:\/\/0\.0\.0\.0:\d+|^http:\/\/[\d.]+:\d+/)
        expect((await fetch(`${http.replace('0.0.0.0', '127.0.0.1')}/healthz`)).status).toBe(200)
      } finally {
        child.kill('SIGTERM')
      }
      expect(await exited).toBe(0)
    })
  })
})
