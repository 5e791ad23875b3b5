import type { Command } from '../command.ts'
import { diffCommand } from './diff.ts'
import { exportCommand } from './export.ts'
import { inspectCommand } from './inspect.ts'
import { proveCommand } from './prove.ts'
import { synthCommand } from './synth.ts'
import { verifyProofCommand } from './verify-proof.ts'

export const snapshotCommands: Command[] = [synthCommand, inspectCommand, exportCommand, diffCommand, proveCommand, verifyProofCommand]
