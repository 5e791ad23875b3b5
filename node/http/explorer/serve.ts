import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { HttpError } from '../respond.ts'

/**
 * The explorer's static files at /explorer/: the committed page (public/) and, under
 * /explorer/vendor/, the ESM builds of @noble/curves and the @noble/hashes it uses (the page's
 * in-browser verification: keccak256, secp256k1 recovery), served straight from node_modules.
 * Only names on the allow-list below are served; nothing is built at run time.
 */

const PUBLIC = fileURLToPath(new URL('./public/', import.meta.url))
const PAGE_FILES = new Set(['index.html', 'app.js', 'api.js', 'verify.js', 'chart.js', 'format.js', 'style.css'])

/** Vendor files the page loads (every module secp256k1.js and sha3.js import, transitively). */
const VENDOR: Record<'noble-curves' | 'noble-hashes', readonly string[]> = {
  'noble-curves': ['secp256k1.js', '_shortw_utils.js', 'abstract/weierstrass.js', 'abstract/curve.js', 'abstract/modular.js', 'abstract/utils.js', 'abstract/hash-to-curve.js'],
  'noble-hashes': ['sha2.js', 'sha3.js', 'utils.js', 'hmac.js', 'crypto.js', '_md.js', '_u64.js'],
}

let vendorDirs: Record<keyof typeof VENDOR, string> | undefined

/** Where npm put them: @noble/curves (viem's dependency) and the @noble/hashes that curves resolves. */
function vendorDir(pkg: keyof typeof VENDOR): string {
  if (vendorDirs === undefined) {
    const curves = createRequire(import.meta.url).resolve('@noble/curves/secp256k1')
    const hashes = createRequire(curves).resolve('@noble/hashes/sha2')
    vendorDirs = { 'noble-curves': join(dirname(curves), 'esm'), 'noble-hashes': join(dirname(hashes), 'esm') }
  }
  return vendorDirs[pkg]
}

const TYPES: Record<string, string> = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
}

let csp: string | undefined

/** The page's one inline script is its import map; the policy allows exactly that script by hash. */
function contentSecurityPolicy(): string {
  if (csp === undefined) {
    const html = readFileSync(join(PUBLIC, 'index.html'), 'utf8')
    const m = /<script type="importmap">([\s\S]*?)<\/script>/.exec(html)
    const hash = m === null ? '' : ` 'sha256-${createHash('sha256').update(m[1]!).digest('base64')}'`
    // connect-src *: the page may read another node's API (?node=URL; that node opts in with CORS)
    csp = `default-src 'self'; script-src 'self'${hash}; style-src 'self'; img-src 'self' data:; connect-src *; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'none'`
  }
  return csp
}

/** Resolve an /explorer/... path to a file on the allow-list, or undefined. */
export function explorerFile(pathname: string): string | undefined {
  const rest = pathname.slice('/explorer/'.length)
  if (rest === '') return join(PUBLIC, 'index.html')
  if (PAGE_FILES.has(rest)) return join(PUBLIC, rest)
  const m = /^vendor\/(noble-curves|noble-hashes)\/(.+)$/.exec(rest)
  if (m !== null) {
    const pkg = m[1] as keyof typeof VENDOR
    if (VENDOR[pkg].includes(m[2]!)) return join(vendorDir(pkg), m[2]!)
  }
  return undefined
}

export async function serveExplorer(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  if (url.pathname === '/explorer') {
    res.writeHead(308, { Location: '/explorer/', 'Content-Length': '0' })
    res.end()
    return
  }
  const file = explorerFile(url.pathname)
  if (file === undefined) throw new HttpError(404, 'NOT_FOUND', 'no such explorer file; open /explorer/')
  const body = await readFile(file)
  const ext = file.slice(file.lastIndexOf('.') + 1)
  res.writeHead(200, {
    'Content-Type': TYPES[ext] ?? 'application/octet-stream',
    'Content-Length': String(body.length),
    'Cache-Control': 'no-cache',
    'Content-Security-Policy': contentSecurityPolicy(),
    'Referrer-Policy': 'no-referrer',
  })
  res.end(req.method === 'HEAD' ? undefined : body)
}
