import { checkName } from '../town/names';
import { GtError } from './errors';

/**
 * Mail addresses. Pure parsing; whether an agent or rig exists is checked against the ledger by the mail
 * service.
 *   mayor                 the Mayor
 *   human                 the person running the town (the overseer)
 *   <rig>/<name>          an agent of a rig (polecat or crew)
 *   <rig>/polecats        every polecat of the rig (fanned out at send time)
 *   <rig>/crew            every crew member of the rig (fanned out at send time)
 */
export type Address =
  | { kind: 'mayor'; text: 'mayor' }
  | { kind: 'human'; text: 'human' }
  | { kind: 'agent'; text: string; rig: string; name: string }
  | { kind: 'group'; text: string; rig: string; role: 'polecat' | 'crew' };

const GROUPS: Record<string, 'polecat' | 'crew'> = { polecats: 'polecat', crew: 'crew' };

const HINT =
  "addresses are 'mayor', 'human', '<rig>/<name>' (an agent), or '<rig>/polecats' / '<rig>/crew' (a group)";

export function parseAddress(input: string): Address {
  const text = input.trim().toLowerCase();
  if (text === 'mayor') return { kind: 'mayor', text };
  if (text === 'human' || text === 'overseer') return { kind: 'human', text: 'human' };
  const parts = text.split('/');
  if (parts.length !== 2) {
    throw new GtError('GT_E_UNKNOWN_ADDRESS', `'${printable(input)}' is not a mail address`, { hint: HINT });
  }
  const [rig, name] = parts as [string, string];
  const rigProblem = checkName('rig', rig);
  if (rigProblem) {
    throw new GtError('GT_E_UNKNOWN_ADDRESS', `'${printable(input)}': ${rigProblem.message}`, { hint: HINT });
  }
  const role = GROUPS[name];
  if (role) return { kind: 'group', text: `${rig}/${name}`, rig, role };
  const nameProblem = checkName('polecat', name);
  if (nameProblem) {
    throw new GtError('GT_E_UNKNOWN_ADDRESS', `'${printable(input)}': ${nameProblem.message}`, {
      hint: HINT,
    });
  }
  return { kind: 'agent', text: `${rig}/${name}`, rig, name };
}

/** Addresses that can be a sender or an inbox owner (no groups). */
export function parseIdentity(input: string): Address & { kind: 'mayor' | 'human' | 'agent' } {
  const address = parseAddress(input);
  if (address.kind === 'group') {
    throw new GtError('GT_E_UNKNOWN_ADDRESS', `'${address.text}' is a group, not one mailbox`, {
      hint: "act as one agent ('<rig>/<name>'), 'mayor' or 'human'",
    });
  }
  return address;
}

function printable(text: string): string {
  return JSON.stringify(text).slice(1, -1).slice(0, 120);
}
