import type { Scenario } from '../scenario.ts'
import { byzantineFlood } from './byzantine-flood.ts'
import { byzantineThird } from './byzantine-third.ts'
import { churn } from './churn.ts'
import { crashMidWrite } from './crash-mid-write.ts'
import { deepReorg } from './deep-reorg.ts'
import { fullDisk } from './full-disk.ts'
import { fuzz } from './fuzz.ts'
import { httpLoad } from './http-load.ts'
import { latencyLoss } from './latency-loss.ts'
import { retentionRace } from './retention-race.ts'
import { rpcFaults } from './rpc-faults.ts'
import { partition43 } from './partition-4-3.ts'
import { partition52 } from './partition-5-2.ts'

/** Every scenario, in the order `npm run chaos` runs them. */
export const SCENARIOS: Scenario[] = [partition43, byzantineThird, fuzz, partition52, churn, deepReorg, latencyLoss, rpcFaults, httpLoad, fullDisk, crashMidWrite, byzantineFlood, retentionRace]
