#!/usr/bin/env node
// Plain JS so that even an old Node can print a useful message instead of a syntax error.
const major = Number(process.versions.node.split('.')[0])
if (major < 24) {
  process.stderr.write(
    `ark needs Node.js 24 or newer (this is ${process.version}).\n` +
      'Run it through npm so the project\'s own Node 24 (the node@24 package) is used: "npx ark ..." or "npm run ark -- ...".\n',
  )
  process.exit(2)
}
// A closed pipe (`ark ... | head`) is the reader's choice, not a failure.
process.stdout.on('error', (err) => {
  if (err.code === 'EPIPE') process.exit(0)
  throw err
})
// Keep V8's compiled code between runs (in Node's compile-cache directory): most of a start-up is
// compiling the libp2p and Helia modules, and every archive node and devnet process pays it.
const { enableCompileCache } = await import('node:module')
enableCompileCache?.()
const { main } = await import('./main.ts')
process.exitCode = await main(process.argv.slice(2))
