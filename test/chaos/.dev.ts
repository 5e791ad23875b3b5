import { partition43 } from '/work/wt/chaos/test/chaos/scenarios/partition-4-3.ts'
const r = await partition43.run({ short: true, nodes: Number(process.env.N ?? 4), log: (l) => console.error(new Date().toISOString().slice(11,19), l) })
console.log(JSON.stringify(r))
