import type { Command } from '../command.ts'
import { loadCommand } from './load.ts'
import { startCommand } from './start.ts'

export const devnetCommands: Command[] = [startCommand, loadCommand]
