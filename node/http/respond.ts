import type { ServerResponse } from 'node:http'
import { bytesToHex } from '../../snapshot/codec/hex.ts'
import { bigintReplacer } from '../../snapshot/codec/json.ts'

/** An error with the HTTP status and stable code to answer with; the message is shown to the client. */
export class HttpError extends Error {
  override readonly name = 'HttpError'
  readonly status: number
  readonly code: string
  readonly parameter: string | undefined
  readonly headers: Record<string, string>

  constructor(status: number, code: string, message: string, options: { parameter?: string; headers?: Record<string, string> } = {}) {
    super(message)
    this.status = status
    this.code = code
    this.parameter = options.parameter
    this.headers = options.headers ?? {}
  }
}

/** JSON with bigints as decimal strings and byte arrays as 0x-hex. */
export function toJSON(value: unknown): string {
  return JSON.stringify(value, function (this: Record<string, unknown>, key: string, v: unknown) {
    const raw = this[key]
    if (raw instanceof Uint8Array) return bytesToHex(raw)
    return bigintReplacer(key, v)
  })
}

export function sendJSON(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = Buffer.from(`${toJSON(body)}\n`)
  res.writeHead(status, { ...headers, 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': String(text.length), 'Cache-Control': 'no-store' })
  res.end(text)
}

export function sendJSONError(res: ServerResponse, err: HttpError): void {
  const error: Record<string, string> = { code: err.code, message: err.message }
  if (err.parameter !== undefined) error.parameter = err.parameter
  sendJSON(res, err.status, { error }, err.headers)
}

export function sendText(res: ServerResponse, status: number, text: string, headers: Record<string, string> = {}, contentType = 'text/plain; charset=utf-8'): void {
  const body = Buffer.from(text)
  res.writeHead(status, { 'Cache-Control': 'no-store', ...headers, 'Content-Type': contentType, 'Content-Length': String(body.length) })
  res.end(body)
}
