import type { Scenario } from '../scenario.ts'
import { runPartition } from './partition.ts'

/** Scenario 1: a 4|3 split of 7 nodes, both sides below the 5-of-7 threshold. */
export const partition43: Scenario = {
  id: 'partition-4-3',
  title: 'Partition 4|3',
  run: (o) => runPartition('partition-4-3', 'third', o),
}
