/**
 * Helpers for the end-to-end CLI tests: run the real `ark` entry point as a
 * child process, make throwaway directories, and take CAR files apart and put
 * them back together (independently of snapshot/car, so corrupt fixtures do
 * not depend on the code under test).
 */
import { spawn } from 'node:child_process'
import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { availableParallelism, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import * as dagCbor from '@ipld/dag-cbor'
import { varint } from 'multiformats'
import { CID } from 'multiformats/cid'
import { expect } from 'vitest'

export const REPO = fileURLToPath(new URL('../..', import.meta.url))
const BIN = join(REPO, 'node', 'cli', 'bin.js')

export interface RunResult {
  /** exit code; null when killed by a signal */
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
  ms: number
}

/** At most this many `ark` processes at once (tests run concurrently; CI has two cores). */
const MAX_CHILDREN = Math.min(4, Math.max(2, availableParallelism()))
let running = 0
const waiting: (() => void)[] = []

async function acquire(): Promise<void> {
  if (running < MAX_CHILDREN) {
    running++
    return
  }
  await new Promise<void>((resolve) => waiting.push(resolve))
}

function release(): void {
  const next = waiting.shift()
  if (next !== undefined) next()
  else running--
}

/**
 * V8 compile cache shared by the children of one test file (NODE_COMPILE_CACHE):
 * it roughly halves the start-up cost of each `ark` run and does not change
 * what runs. Set by useCompileCache() in beforeAll, removed in afterAll.
 */
let compileCache: string | undefined

export async function useCompileCache(): Promise<() => Promise<void>> {
  const dir = await mkdtemp(join(tmpdir(), 'ark-cli-compile-cache-'))
  compileCache = dir
  return async () => {
    compileCache = undefined
    await rm(dir, { recursive: true, force: true })
  }
}

/** Run `ark ...args` (node/cli/bin.js) with the repo as cwd; never rejects on a non-zero exit. */
export async function ark(args: string[], opts: { timeoutMs?: number } = {}): Promise<RunResult> {
  await acquire()
  try {
    return await runOnce(args, opts.timeoutMs ?? 60_000)
  } finally {
    release()
  }
}

function runOnce(args: string[], timeoutMs: number): Promise<RunResult> {
  const t0 = performance.now()
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: REPO,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: compileCache === undefined ? process.env : { ...process.env, NODE_COMPILE_CACHE: compileCache },
    })
    const out: Buffer[] = []
    const err: Buffer[] = []
    child.stdout.on('data', (b: Buffer) => out.push(b))
    child.stderr.on('data', (b: Buffer) => err.push(b))
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    child.on('error', (e) => {
      clearTimeout(timer)
      reject(e)
    })
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), ms: Math.round(performance.now() - t0) })
    })
  })
}

/** A fresh temporary directory, removed when the test finishes (pass the test context's onTestFinished). */
export async function tempDir(onTestFinished: (fn: () => Promise<void>) => void, prefix = 'ark-cli-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix))
  onTestFinished(() => rm(dir, { recursive: true, force: true }))
  return dir
}

export async function listDir(dir: string): Promise<string[]> {
  return (await readdir(dir)).sort()
}

/** The directory holds exactly these names: no output file, no leftover `*.tmp-*`. */
export async function expectOnly(dir: string, names: string[]): Promise<void> {
  const got = await listDir(dir)
  expect(got.filter((n) => n.includes('.tmp-')), `temporary files left in ${dir}`).toEqual([])
  expect(got).toEqual([...names].sort())
}

export interface ErrorJson {
  name: string
  code: string
  message: string
  retryable: boolean
}

/** The `--json` error object a failed command writes as the last line of stderr. */
export function jsonError(r: RunResult): ErrorJson {
  const lines = r.stderr.trim().split('\n')
  let parsed: { error?: ErrorJson }
  try {
    parsed = JSON.parse(lines[lines.length - 1]!) as { error?: ErrorJson }
  } catch {
    throw new Error(`stderr is not a JSON error line:\n${r.stderr}`)
  }
  expect(parsed.error, `stderr: ${r.stderr}`).toBeDefined()
  expect(typeof parsed.error!.message).toBe('string')
  return parsed.error!
}

/** Assert a failed run: the exit code, and (for --json runs) the error code and a message matching `message`. */
export function expectFailure(r: RunResult, exit: number, code: string, message?: RegExp): ErrorJson {
  expect(r.code, `exit code; stderr: ${r.stderr}`).toBe(exit)
  const e = jsonError(r)
  expect(e.code, e.message).toBe(code)
  if (message !== undefined) expect(e.message).toMatch(message)
  expect(r.stderr).not.toMatch(/this is a bug in ark/)
  return e
}

/** One parsed JSON line of stdout (the last non-empty one by default). */
export function stdoutJson<T = Record<string, unknown>>(r: RunResult, index = -1): T {
  const lines = r.stdout.split('\n').filter((l) => l.length > 0)
  const line = lines.at(index)
  if (line === undefined) throw new Error(`no stdout line ${index}; stdout: ${r.stdout}\nstderr: ${r.stderr}`)
  return JSON.parse(line) as T
}

export interface CarBlock {
  cid: CID
  bytes: Uint8Array
  /** offset of the block's length varint, and of its data (after the CID), in the file */
  offset: number
  dataOffset: number
  end: number
}

function readVarint(bytes: Uint8Array, offset: number): [number, number] {
  const [value, length] = varint.decode(bytes, offset)
  return [value, offset + length]
}

/** Split a well-formed CARv1 into its header roots and blocks (no hash checks). */
export function parseCar(bytes: Uint8Array): { roots: CID[]; headerEnd: number; blocks: CarBlock[] } {
  const [hlen, hstart] = readVarint(bytes, 0)
  const header = dagCbor.decode(bytes.subarray(hstart, hstart + hlen)) as { roots: CID[]; version: number }
  expect(header.version).toBe(1)
  const blocks: CarBlock[] = []
  let o = hstart + hlen
  while (o < bytes.length) {
    const [len, start] = readVarint(bytes, o)
    const [cid, rest] = CID.decodeFirst(bytes.subarray(start, start + len))
    blocks.push({ cid, bytes: rest, offset: o, dataOffset: start + len - rest.length, end: start + len })
    o = start + len
  }
  return { roots: header.roots.map((r) => CID.asCID(r)!), headerEnd: hstart + hlen, blocks }
}

/** Encode a CARv1 from roots and blocks, as given (no checks: used to build bad files too). */
export function encodeCar(roots: CID[], blocks: { cid: CID; bytes: Uint8Array }[]): Uint8Array {
  const parts: Uint8Array[] = []
  const header = dagCbor.encode({ roots, version: 1 })
  parts.push(varint.encodeTo(header.length, new Uint8Array(varint.encodingLength(header.length))), header)
  for (const b of blocks) {
    const len = b.cid.bytes.length + b.bytes.length
    parts.push(varint.encodeTo(len, new Uint8Array(varint.encodingLength(len))), b.cid.bytes, b.bytes)
  }
  return Buffer.concat(parts)
}

/** Minimal RFC 4180 parser: quoted fields with doubled quotes, CRLF or LF record ends. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = []
  let row: string[] = []
  let field = ''
  let i = 0
  let quoted = false
  while (i < text.length) {
    const c = text[i]!
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          field += '"'
          i += 2
          continue
        }
        quoted = false
        i++
        continue
      }
      field += c
      i++
      continue
    }
    if (c === '"') {
      if (field.length !== 0) throw new Error(`CSV: quote inside an unquoted field at ${i}`)
      quoted = true
    } else if (c === ',') {
      row.push(field)
      field = ''
    } else if (c === '\n' || (c === '\r' && text[i + 1] === '\n')) {
      row.push(field)
      rows.push(row)
      row = []
      field = ''
      if (c === '\r') i++
    } else {
      field += c
    }
    i++
  }
  if (quoted) throw new Error('CSV: unterminated quoted field')
  if (field.length > 0 || row.length > 0) {
    row.push(field)
    rows.push(row)
  }
  return rows
}
