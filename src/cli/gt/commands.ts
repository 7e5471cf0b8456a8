import type { Command } from 'commander';

/**
 * Each subsystem adds one `register…(program)` here. Handlers are imported lazily inside actions so a
 * command loads only the code it runs.
 */
const registrations: Array<(program: Command) => void> = [];

export function registerGtCommands(program: Command): void {
  for (const register of registrations) register(program);
}
