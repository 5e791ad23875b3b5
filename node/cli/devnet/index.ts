import type { Command } from '../command.ts'
import { loadCommand } from './load.ts'
import { nodeCommand } from './node.ts'
import { startCommand } from './start.ts'

export const devnetCommands: Command[] = [startCommand, loadCommand, nodeCommand]
