import type { Command } from '../command.ts'
import { buildCommand } from './build.ts'
import { diffCommand } from './diff.ts'
import { exportCommand } from './export.ts'
import { inspectCommand } from './inspect.ts'
import { proveCommand } from './prove.ts'
import { synthCommand } from './synth.ts'
import { verifyProofCommand } from './verify-proof.ts'

export const snapshotCommands: Command[] = [buildCommand, synthCommand, inspectCommand, exportCommand, diffCommand, proveCommand, verifyProofCommand]
