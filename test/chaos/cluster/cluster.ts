import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runWorkload } from '../../../node/devnet/workload.ts'
import { blockNumber, startChain, type ChainFixture } from '../../support/chain.ts'
import { FaultNet } from '../net/fault-net.ts'
import { chaosOperator, writeDevKey, writePeerKey } from './keys.ts'
import { spawnNode, stopNode, type LogLine, type NodeProcess } from './node-process.ts'
import { newNodeLog, observe, type NodeLog } from './observer.ts'

export interface ClusterOptions {
  name: string
  /** operators in the set (weight 1 each, threshold more than 2/3); default 7 */
  operators?: number
  /** operator indices that get no process (their keys stay with the harness: byzantine scenarios) */
  withoutProcess?: number[]
  interval?: number
  confirmations?: number
  quorumTimeoutMs?: number
  pollMs?: number
  /** per node: its RPC endpoints (default the anvil URL) */
  rpc?: (i: number, anvilUrl: string) => string[] | Promise<string[]>
  /** per node: its data directory (default <root>/node<i>), e.g. a tmpfs mount */
  dataDir?: (i: number, root: string) => Promise<string> | string
  /** the nodes' retention (default: the node's own defaults) */
  retention?: { keepLast: number; keepEvery: number }
  logLevel?: string
  onLog?: (i: number, line: LogLine) => void
  /** the workload's traders per round (default 4) and rounds' pause (default 600 ms) */
  traders?: number
  pauseMs?: number
}

/**
 * The chaos cluster: a real anvil with the reference protocol, N archive node PROCESSES on
 * 127.0.0.1 with on-disk stores, every libp2p link through its own fault proxy, and a workload that
 * keeps the chain moving. stop() ends everything it started (mining, nodes, proxies, chain, files);
 * a process exit hook (cleanup.ts) kills whatever a crash left behind.
 */
export class ChaosCluster {
  readonly n: number
  readonly nodes: (NodeProcess | undefined)[]
  readonly logs: NodeLog[]
  readonly peerIds: string[] = []
  readonly dataDirs: string[] = []
  readonly configPaths: string[] = []
  readonly operators: `0x${string}`[]
  readonly t0 = Date.now()
  /** every node process this cluster spawned and that has not exited, started or not */
  private readonly children = new Set<import('node:child_process').ChildProcess>()
  private mining: AbortController | undefined
  private miningDone: Promise<void> = Promise.resolve()
  readonly o: ClusterOptions
  readonly root: string
  readonly chain: ChainFixture
  readonly net: FaultNet
  private constructor(o: ClusterOptions, root: string, chain: ChainFixture, net: FaultNet) {
    this.o = o
    this.root = root
    this.chain = chain
    this.net = net
    this.n = o.operators ?? 7
    this.nodes = Array.from({ length: this.n }, () => undefined)
    this.logs = Array.from({ length: this.n }, () => newNodeLog())
    this.operators = Array.from({ length: this.n }, (_, i) => chaosOperator(i))
  }

  get threshold(): number {
    return Math.floor((2 * this.n) / 3) + 1
  }

  /** Indices of operators that run a process. */
  get running(): number[] {
    const off = new Set(this.o.withoutProcess ?? [])
    return Array.from({ length: this.n }, (_, i) => i).filter((i) => !off.has(i))
  }

  static async start(o: ClusterOptions): Promise<ChaosCluster> {
    const root = await mkdtemp(join(tmpdir(), `ark-chaos-${o.name}-`))
    let chain: ChainFixture | undefined
    let net: FaultNet | undefined
    let c: ChaosCluster | undefined
    try {
      chain = await startChain()
      await runWorkload({ rpcUrl: chain.anvil.rpcUrl, deployment: chain.deployment, seed: 1100, traders: o.traders ?? 4, steps: 12 })
      const n = o.operators ?? 7
      net = await FaultNet.create(n)
      c = new ChaosCluster(o, root, chain, net)
      net.enforce()
      await c.writeConfigs()
      await Promise.all(c.running.map((i) => c!.startNode(i)))
      return c
    } catch (err) {
      if (c !== undefined) await c.stop()
      else {
        await net?.close()
        await chain?.stop()
        await rm(root, { recursive: true, force: true })
      }
      throw err
    }
  }

  private async writeConfigs(): Promise<void> {
    const o = this.o
    await writeFile(join(this.root, 'operators.json'), JSON.stringify({ operators: this.operators.map((address) => ({ address, weight: 1 })) }))
    const firstBlock = (await blockNumber(this.chain)) + 2n
    for (let i = 0; i < this.n; i++) {
      const cfgDir = join(this.root, `cfg${i}`)
      await mkdir(cfgDir, { recursive: true, mode: 0o700 })
      const dataDir = o.dataDir === undefined ? join(this.root, `node${i}`) : await o.dataDir(i, this.root)
      await mkdir(dataDir, { recursive: true, mode: 0o700 })
      this.dataDirs.push(dataDir)
      this.peerIds.push(await writePeerKey(dataDir))
      await writeDevKey(cfgDir, i)
    }
    for (let i = 0; i < this.n; i++) {
      const config = {
        dataDir: this.dataDirs[i],
        chain: { chainId: 31337, rpc: (await o.rpc?.(i, this.chain.anvil.rpcUrl)) ?? [this.chain.anvil.rpcUrl], finality: { confirmations: o.confirmations ?? 1 } },
        adapter: { id: 'perp-reference', config: { exchange: this.chain.deployment.exchange, options: this.chain.deployment.options, startBlock: Number(this.chain.deployment.deployBlock) } },
        checkpoint: { interval: o.interval ?? 4, quorumTimeoutMs: o.quorumTimeoutMs ?? 10_000, pollMs: o.pollMs ?? 200, firstBlock: Number(firstBlock) },
        operators: { file: join(this.root, 'operators.json') },
        key: { devPrivateKeyFile: 'dev.key' },
        // every peer through the proxy of that one link: faults are per link (see FaultNet)
        p2p: { listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap: this.running.filter((j) => j !== i).map((j) => this.net.addr(i, j, this.peerIds[j]!)) },
        http: { host: '127.0.0.1', port: 0 },
        ...(o.retention === undefined ? {} : { retention: o.retention }),
      }
      const path = join(this.root, `cfg${i}`, 'config.json')
      await writeFile(path, JSON.stringify(config, null, 2))
      this.configPaths.push(path)
    }
  }

  /** Start (or restart, same data directory) node i; its proxies forward to its new port. */
  async startNode(i: number): Promise<NodeProcess> {
    const p = await spawnNode({
      index: i,
      configPath: this.configPaths[i]!,
      logLevel: this.o.logLevel ?? 'info',
      children: this.children,
      onLog: (k, l) => {
        observe(this.logs[k]!, l)
        this.o.onLog?.(k, l)
      },
    })
    this.nodes[i] = p
    this.net.setUpstream(i, p.p2pPort)
    void p.exited.then(() => {
      if (this.nodes[i] === p) this.net.setUpstream(i, undefined)
    })
    return p
  }

  kill(i: number, signal: NodeJS.Signals = 'SIGKILL'): void {
    const p = this.nodes[i]
    if (p !== undefined && p.child.exitCode === null && p.child.signalCode === null) p.child.kill(signal)
  }

  /** SIGKILL node i and wait for it to be gone. */
  async crash(i: number): Promise<void> {
    const p = this.nodes[i]
    if (p === undefined) return
    this.kill(i, 'SIGKILL')
    await p.exited
  }

  isUp(i: number): boolean {
    const p = this.nodes[i]
    return p !== undefined && p.child.exitCode === null && p.child.signalCode === null
  }

  /** Keep the chain moving: the same few traders trade in rounds (a few blocks each). */
  mine(): void {
    if (this.mining !== undefined) return
    const ctl = (this.mining = new AbortController())
    this.miningDone = (async () => {
      while (!ctl.signal.aborted) {
        await runWorkload({ rpcUrl: this.chain.anvil.rpcUrl, deployment: this.chain.deployment, seed: 1100, traders: this.o.traders ?? 4, steps: 3, signal: ctl.signal }).catch(() => {})
        await new Promise((r) => setTimeout(r, this.o.pauseMs ?? 600))
      }
    })()
  }

  async stopMining(): Promise<void> {
    this.mining?.abort()
    this.mining = undefined
    await this.miningDone
  }

  head(): Promise<bigint> {
    return blockNumber(this.chain)
  }

  /** Seconds since the cluster started, for event timelines. */
  since(at = Date.now()): number {
    return Math.round((at - this.t0) / 100) / 10
  }

  /** Stop the nodes (SIGTERM, then SIGKILL) but keep chain, proxies and files: for the safety check. */
  async stopNodes(): Promise<void> {
    await this.stopMining()
    await Promise.all(this.nodes.map((p) => (p === undefined ? undefined : stopNode(p))))
    // a node still starting when a scenario failed has no entry in `nodes` yet
    await Promise.all(
      [...this.children].map(async (child) => {
        child.kill('SIGKILL')
        if (child.exitCode === null && child.signalCode === null) await new Promise((r) => child.once('exit', r))
      }),
    )
  }

  /** Everything: nodes, mining, proxies, chain; the files unless ARK_CHAOS_KEEP is set. */
  async stop(): Promise<void> {
    await this.stopNodes().catch(() => {})
    await this.net.close().catch(() => {})
    await this.chain.stop().catch(() => {})
    if (process.env.ARK_CHAOS_KEEP === undefined) await rm(this.root, { recursive: true, force: true, maxRetries: 3 }).catch(() => {})
  }
}
