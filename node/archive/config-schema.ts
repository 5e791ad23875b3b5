/**
 * The node config's JSON Schema (draft-07): the one source of the config's
 * shape. parseNodeConfig (config.ts) checks every file against it with
 * checkSchema (json-schema.ts) before it reads a value, and
 * `node node/archive/config-schema.ts` writes it to deploy/node.schema.json
 * (test/deploy/schema.test.ts regenerates it and compares byte for byte), so
 * the published schema and the parser cannot disagree about what a file may
 * hold. What a schema cannot say (environment overrides, a secret's length in
 * an environment variable, paths resolved against the file) stays in the parser.
 *
 * `errorMessage` (the ajv-errors keyword; other validators ignore it) is the
 * message the parser gives for a value that fails the schema at that place.
 */
import { writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

type Schema = Record<string, unknown>

const integer = (minimum: number, description: string, extra: Schema = {}): Schema => ({ type: 'integer', minimum, description, ...extra })
const nonEmpty = (description: string): Schema => ({ type: 'string', minLength: 1, description })
const ADDRESS = '^0x[0-9a-fA-F]{40}$'
const address = (description: string): Schema => ({ type: 'string', pattern: ADDRESS, description, errorMessage: 'a 0x-prefixed 20-byte address' })
const HTTP_URL = '^https?://'
const multiaddrs = (description: string): Schema => ({ type: 'array', items: { type: 'string' }, description, errorMessage: 'a list of multiaddr strings' })
const object = (properties: Record<string, Schema>, extra: Schema = {}): Schema => ({ type: 'object', properties, additionalProperties: false, ...extra })

const keySource = {
  keystore: nonEmpty('encrypted keystore (ark keys new), mode 0600; unlocked by ARK_KEYSTORE_PASSWORD, ARK_KEYSTORE_PASSWORD_FILE or passwordFile'),
  passwordFile: nonEmpty('file holding the keystore password, mode 0600'),
  devPrivateKeyFile: nonEmpty('plain 0x-hex private key, mode 0600; development only (ark node start --dev-key)'),
}

const watchdog = object({
  exchange: address('the exchange the protocol monitors watch (default: the adapter\'s exchange)'),
  pollMs: integer(50, 'how often the chain is observed (ms)'),
  chain: object({
    maxBlockGapMs: integer(100, 'chain-stall: no new block for this long (ms)'),
    maxHeadSpreadBlocks: integer(0, 'rpc-disagreement: endpoints\' heads further apart than this'),
    maxHeadLagBlocks: integer(1, 'head-lag: own finalized head this many blocks behind'),
  }),
  oracle: object({
    heartbeatSec: integer(1, 'oracle-stale: a feed older than this (seconds of block time); consensus: equal on every node'),
    heartbeats: { type: 'object', propertyNames: { pattern: ADDRESS }, additionalProperties: integer(1, 'seconds'), description: 'per-feed heartbeat overrides (feed address -> seconds)' },
    maxDeviationBps: integer(1, 'oracle-deviation bound (basis points); consensus'),
    pairs: {
      type: 'array',
      description: 'feeds for one market and their bound',
      errorMessage: 'a list of {"feeds": ["0x…", "0x…"], "maxBps": N}',
      items: object({ feeds: { type: 'array', items: address('feed'), minItems: 2, maxItems: 2, errorMessage: 'exactly two feed addresses' }, maxBps: integer(1, 'bound in basis points of the lower answer') }, { required: ['feeds'] }),
    },
    extraFeeds: { type: 'array', items: address('feed'), description: 'feeds watched besides the market feeds', errorMessage: 'a list of feed addresses' },
  }),
  engine: object({
    backlogBlocks: integer(1, 'liquidation-backlog: an account below maintenance this many blocks; consensus'),
    fundingPeriodSec: integer(1, 'funding-stale period (seconds); consensus'),
    backlogCandidates: integer(0, 'accounts confirmed on chain per poll'),
    maxLookbackBlocks: integer(1, 'how far back the start of a run below margin is searched'),
  }),
  emergency: object({
    enabled: { type: 'boolean', description: 'take emergency checkpoints' },
    cooldownBlocks: integer(0, 'deterministic rate limit per (kind, subject); consensus'),
    maxPerHour: integer(1, 'local cap on emergencies per hour'),
  }),
  webhooks: {
    type: 'array',
    description: 'alert receivers; each authenticates deliveries with its secret',
    items: object(
      { url: { type: 'string', pattern: HTTP_URL, description: 'receiver URL', errorMessage: 'an http(s) URL' }, secretFile: nonEmpty('secret file, mode 0600'), secretEnv: nonEmpty('environment variable holding the secret (>= 16 characters)') },
      { required: ['url'], anyOf: [{ required: ['secretFile'] }, { required: ['secretEnv'] }], errorMessage: 'a webhook {"url": "https://…"} with "secretFile" (mode 0600) or "secretEnv"' },
    ),
  },
  webhook: object({
    queue: integer(1, 'deliveries queued at most'),
    maxAttempts: integer(1, 'attempts per delivery'),
    backoffMs: integer(1, 'first retry delay (ms)'),
    maxBackoffMs: integer(1, 'longest retry delay (ms)'),
    timeoutMs: integer(100, 'per-attempt timeout (ms)'),
  }),
  breaker: object(
    { ...keySource, exchange: address('the exchange to pause (default: the watched exchange)') },
    { anyOf: [{ required: ['keystore'] }, { required: ['devPrivateKeyFile'] }], description: 'circuit breaker: the guardian key calls pause() once an emergency is quorum-confirmed', errorMessage: '{"keystore": "guardian.json", "passwordFile"?: …} (or "devPrivateKeyFile" with --dev-key)' },
  ),
}, { description: 'optional watchdog (PROTOCOL.md §12); oracle, engine and emergency.cooldownBlocks must be equal on every node' })

export const NODE_CONFIG_SCHEMA: Schema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  $id: 'https://ark.invalid/deploy/node.schema.json',
  title: 'Ark archive node config',
  description: 'ark node start --config FILE. Relative paths resolve against the file\'s directory. Environment overrides: ARK_DATA_DIR, ARK_RPC_URLS (comma-separated), ARK_HTTP_PORT, ARK_KEYSTORE_PASSWORD, ARK_KEYSTORE_PASSWORD_FILE, ARK_RELAYER_PASSWORD, ARK_RELAYER_PASSWORD_FILE, ARK_HTTP_HOST. Generated from node/archive/config-schema.ts; do not edit.',
  ...object(
    {
      dataDir: nonEmpty('data directory (blocks, certificates, sign log); required unless ARK_DATA_DIR is set'),
      chain: object(
        {
          chainId: integer(1, 'the chain snapshotted; every RPC endpoint must report it'),
          rpc: { type: 'array', minItems: 1, items: { type: 'string', pattern: HTTP_URL }, description: 'JSON-RPC endpoints (credentials in a URL are never logged); required unless ARK_RPC_URLS is set', errorMessage: 'a non-empty list of http(s) URLs (or set ARK_RPC_URLS)' },
          finality: {
            description: 'when a block is final: "finalized" (the default) or {"confirmations": N}',
            errorMessage: '"finalized" or {"confirmations": N}',
            oneOf: [{ const: 'finalized' }, object({ confirmations: integer(0, 'blocks below the head') }, { required: ['confirmations'] })],
          },
        },
        { required: ['chainId'] },
      ),
      adapter: object(
        {
          id: nonEmpty('a built-in adapter (e.g. perp-reference)'),
          module: nonEmpty('a module specifier or path (relative to this file) exporting an Adapter; alternative to id'),
          config: { description: 'the adapter\'s own config (its parseConfig checks it); equal on every node of a network' },
        },
        { anyOf: [{ required: ['id'] }, { required: ['module'] }], errorMessage: '{"id": "perp-reference"} or {"module": "./my-adapter.js"} with its "config"' },
      ),
      checkpoint: object(
        {
          interval: integer(1, 'blocks between checkpoints'),
          quorumTimeoutMs: integer(100, 'warn when no quorum within this long (ms)'),
          pollMs: integer(10, 'head polling interval (ms)'),
          firstBlock: integer(0, 'first checkpoint block (default: the adapter\'s start block)'),
        },
        { required: ['interval'] },
      ),
      operators: object(
        { file: nonEmpty('operator set file (operators.example.json)'), registry: address('ArkRegistry contract holding the operator set') },
        { oneOf: [{ required: ['file'] }, { required: ['registry'] }], errorMessage: '{"file": "operators.json"} or {"registry": "0x…"}' },
      ),
      key: object(
        {
          ...keySource,
          remote: object(
            {
              url: { type: 'string', pattern: HTTP_URL, description: 'JSON-RPC signer exposing eth_signTypedData_v4 (Web3Signer, Clef, a wallet service); credentials in the URL are never logged', errorMessage: 'an http(s) URL' },
              address: address('the operator address the signer signs for'),
            },
            { required: ['url', 'address'], description: 'sign EIP-712 through a remote JSON-RPC signer instead of a local key' },
          ),
        },
        {
          oneOf: [{ required: ['keystore'] }, { required: ['devPrivateKeyFile'] }, { required: ['remote'] }],
          errorMessage: '{"keystore": "key.json", "passwordFile"?: "…"} (or {"remote": {"url": "https://signer…", "address": "0x…"}}, or {"devPrivateKeyFile": "…"} with --dev-key)',
        },
      ),
      p2p: object({
        listen: multiaddrs('libp2p listen addresses (default /ip4/127.0.0.1/tcp/0)'),
        bootstrap: multiaddrs('peers dialled at start'),
        announce: multiaddrs('addresses peers are told to dial (NAT, proxies); default the listen addresses'),
      }),
      http: object({
        host: nonEmpty('HTTP API bind address (default 127.0.0.1)'),
        port: integer(0, 'HTTP API port (default 9545; 0 picks a free one); ARK_HTTP_PORT overrides', { maximum: 65535, errorMessage: 'a TCP port (0-65535; 0 picks a free one)' }),
        admin: { type: 'boolean', description: 'serve the admin endpoints' },
      }),
      retention: object({ keepLast: integer(1, 'keep the newest N certified checkpoints'), keepEvery: integer(1, 'and every Nth block beyond them') }),
      watchdog,
      relayer: object(
        {
          ...keySource,
          delayMs: integer(0, 'wait this long after holding a certificate before checking the registry and sending (0: the designated relayer; backups: staggered, e.g. 60000, 120000)'),
          registry: address('the ArkRegistry to anchor in (default: operators.registry)'),
        },
        {
          anyOf: [{ required: ['keystore'] }, { required: ['devPrivateKeyFile'] }],
          description: 'optional anchoring relayer: submits each certificate to ArkRegistry with this (funded) key; keystore unlocked by ARK_RELAYER_PASSWORD, ARK_RELAYER_PASSWORD_FILE or passwordFile',
          errorMessage: '{"keystore": "relayer.json", "passwordFile"?: …, "delayMs"?: N} (or "devPrivateKeyFile" with --dev-key)',
        },
      ),
    },
    { required: ['chain', 'adapter', 'checkpoint', 'operators', 'key'] },
  ),
}

/** The committed file's exact text. */
export function nodeSchemaText(): string {
  return `${JSON.stringify(NODE_CONFIG_SCHEMA, null, 2)}\n`
}

export const NODE_SCHEMA_FILE = fileURLToPath(new URL('../../deploy/node.schema.json', import.meta.url))

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  writeFileSync(NODE_SCHEMA_FILE, nodeSchemaText())
  process.stdout.write(`wrote ${NODE_SCHEMA_FILE}\n`)
}
