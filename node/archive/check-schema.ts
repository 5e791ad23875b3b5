import { InvalidInputError } from '../../snapshot/errors.ts'

/**
 * The subset of JSON Schema (draft-07) the node config's schema uses, checked
 * in the order that gives the clearest message: type, unknown keys, the
 * object's alternatives (required / anyOf / oneOf), then each property. A
 * missing required property is checked as `undefined` against its own schema,
 * so it is reported as "must be …" at its own path. `errorMessage` (the
 * ajv-errors keyword) replaces the default message at its level and for its
 * items. Keywords outside the subset throw: the schema cannot grow a rule the
 * parser silently skips.
 */
type Schema = Record<string, unknown>

const KNOWN = new Set(['$schema', '$id', 'title', 'description', 'errorMessage', 'type', 'properties', 'additionalProperties', 'propertyNames', 'required', 'anyOf', 'oneOf', 'const', 'items', 'minItems', 'maxItems', 'minLength', 'pattern', 'minimum', 'maximum'])

function describe(s: Schema): string {
  switch (s.type) {
    case 'object':
      return 'an object'
    case 'array':
      return 'a list'
    case 'boolean':
      return 'true or false'
    case 'integer':
      return s.maximum === undefined ? `an integer >= ${String(s.minimum ?? '-∞')}` : `an integer from ${String(s.minimum)} to ${String(s.maximum)}`
    case 'string':
      return s.pattern !== undefined ? `a string matching /${String(s.pattern)}/` : s.minLength === 1 ? 'a non-empty string' : 'a string'
    default:
      return 'valid'
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v)

function typeOk(v: unknown, type: unknown): boolean {
  switch (type) {
    case undefined:
      return v !== undefined
    case 'object':
      return isObject(v)
    case 'array':
      return Array.isArray(v)
    case 'string':
      return typeof v === 'string'
    case 'boolean':
      return typeof v === 'boolean'
    case 'integer':
      return typeof v === 'number' && Number.isSafeInteger(v)
    default:
      throw new Error(`check-schema: unsupported type ${String(type)}`)
  }
}

/** The first violation of `schema` by `v` at `path`, as the message the parser throws; undefined when valid. */
export function schemaError(v: unknown, schema: Schema, path: string, inherited?: string): string | undefined {
  for (const k of Object.keys(schema)) if (!KNOWN.has(k)) throw new Error(`check-schema: unsupported keyword ${k} at ${path}`)
  const own = typeof schema.errorMessage === 'string' ? schema.errorMessage : inherited
  const got = v === undefined || isObject(v) || Array.isArray(v) ? '' : `, got ${JSON.stringify(v)}`
  const fail = (): string => `config "${path}" must be ${own ?? describe(schema)}${got}`
  if ('const' in schema) return v === schema.const ? undefined : fail()
  if (schema.type === undefined) {
    const alts = (schema.oneOf ?? schema.anyOf) as Schema[] | undefined
    if (alts === undefined) return undefined
    const errors = alts.map((a) => schemaError(v, a, path))
    const matches = errors.filter((e) => e === undefined).length
    if (schema.oneOf !== undefined ? matches === 1 : matches > 0) return undefined
    // one alternative of the value's own type: its message is the precise one (e.g. a negative confirmations)
    const typed = alts.map((a, i) => [a, errors[i]] as const).filter(([a]) => a.type !== undefined && typeOk(v, a.type))
    return typed.length === 1 ? typed[0]![1] : fail()
  }
  if (!typeOk(v, schema.type)) return schema.type === 'object' ? `config "${path}" must be an object${got}` : fail()
  if (schema.type === 'object') {
    const o = v as Record<string, unknown>
    const props = (schema.properties ?? {}) as Record<string, Schema>
    if (schema.additionalProperties === false) {
      const allowed = Object.keys(props)
      for (const k of Object.keys(o)) if (!allowed.includes(k)) return `config "${path}" has unknown key "${k}"; allowed: ${allowed.join(', ')}`
    }
    for (const key of ['oneOf', 'anyOf'] as const) {
      const alts = schema[key] as Schema[] | undefined
      if (alts === undefined) continue
      const matches = alts.filter((a) => schemaError(v, { type: 'object', ...a }, path) === undefined).length
      if (key === 'oneOf' ? matches !== 1 : matches === 0) return fail()
    }
    const required = (schema.required ?? []) as string[]
    for (const k of required) if (!(k in o) && props[k] === undefined) return fail()
    for (const [k, s] of Object.entries(props)) {
      if (o[k] === undefined && !required.includes(k)) continue
      const e = schemaError(o[k], s, path === '(root)' ? k : `${path}.${k}`)
      if (e !== undefined) return e
    }
    if (isObject(schema.additionalProperties) || isObject(schema.propertyNames)) {
      for (const [k, x] of Object.entries(o)) {
        if (k in props) continue
        const names = schema.propertyNames as Schema | undefined
        if (names !== undefined && schemaError(k, { type: 'string', ...names }, `${path} key ${k}`) !== undefined) return `config "${path}" key "${k}" must match /${String(names.pattern)}/`
        if (isObject(schema.additionalProperties)) {
          const e = schemaError(x, schema.additionalProperties, `${path}.${k}`)
          if (e !== undefined) return e
        }
      }
    }
    return undefined
  }
  if (schema.type === 'array') {
    const a = v as unknown[]
    if (a.length < ((schema.minItems as number | undefined) ?? 0) || a.length > ((schema.maxItems as number | undefined) ?? Infinity)) return fail()
    if (schema.items !== undefined) {
      for (let i = 0; i < a.length; i++) {
        const item = schema.items as Schema
        // an object item names its own index; a scalar item's failure is the list's
        const e = schemaError(a[i], item, item.type === 'object' ? `${path}[${i}]` : path, item.type === 'object' ? undefined : own)
        if (e !== undefined) return e
      }
    }
    return undefined
  }
  if (typeof v === 'string') {
    if (v.length < ((schema.minLength as number | undefined) ?? 0)) return fail()
    if (typeof schema.pattern === 'string' && !new RegExp(schema.pattern, 'u').test(v)) return fail()
  }
  if (typeof v === 'number') {
    if (typeof schema.minimum === 'number' && v < schema.minimum) return fail()
    if (typeof schema.maximum === 'number' && v > schema.maximum) return fail()
  }
  return undefined
}

/** Throw InvalidInputError (naming the key and the fix) unless `v` satisfies `schema`. */
export function checkSchema(v: unknown, schema: Schema, path = '(root)'): void {
  const e = schemaError(v, schema, path)
  if (e !== undefined) throw new InvalidInputError(e)
}
