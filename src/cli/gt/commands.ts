import type { Command } from 'commander';
import { registerAgentCommands } from './agent-commands';
import { registerConvoyCommands } from './convoy-commands';
import { registerCrewCommands } from './crew-commands';
import { registerDaemonCommands } from './daemon-commands';
import { registerDemoCommand } from './demo-command';
import { registerDoctorCommand } from './doctor-command';
import { registerEmergencyCommands } from './emergency-commands';
import { registerEscalateCommands } from './escalate-commands';
import { registerGuardCommand } from './guard-command';
import { registerMailCommands } from './mail-commands';
import { registerMayorCommands } from './mayor-commands';
import { registerRefineryCommands } from './refinery-commands';
import { registerRigCommands } from './rig-commands';
import { registerStatusCommands } from './status-commands';
import { registerTownCommands } from './town-commands';
import { registerWorkCommands } from './work-commands';

/**
 * Each subsystem adds one `register…(program)` here. Handlers are imported lazily inside actions so a
 * command loads only the code it runs.
 */
const registrations: Array<(program: Command) => void> = [
  registerAgentCommands,
  registerTownCommands,
  registerRigCommands,
  registerDoctorCommand,
  registerGuardCommand,
  registerConvoyCommands,
  registerMailCommands,
  registerEscalateCommands,
  registerMayorCommands,
  registerWorkCommands,
  registerCrewCommands,
  registerRefineryCommands,
  registerDaemonCommands,
  registerEmergencyCommands,
  registerStatusCommands,
  registerDemoCommand,
];

export function registerGtCommands(program: Command): void {
  for (const register of registrations) register(program);
}
