import type { Command } from '../command.ts'
import { adapterCheckCommand } from './check.ts'

export const adapterCommands: Command[] = [adapterCheckCommand]
