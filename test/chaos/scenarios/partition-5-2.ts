import type { Scenario } from '../scenario.ts'
import { runPartition } from './partition.ts'

/** Scenario 2: a 5|2 split of 7 nodes: the majority holds the threshold and keeps certifying. */
export const partition52: Scenario = {
  id: 'partition-5-2',
  title: 'Partition 5|2',
  run: (o) => runPartition('partition-5-2', 'small', o),
}
