import { join } from 'node:path';

/** The file that marks a town root. */
export const TOWN_CONFIG_FILE = 'town.toml';
/** Runtime state (ledger, sockets, pid files) lives here, ignored by git. */
export const TOWN_STATE_DIR = '.gt';
/** Default ledger location, relative to the town root (overridable by `[ledger] path` in town.toml). */
export const DEFAULT_TOWN_LEDGER = join(TOWN_STATE_DIR, 'ledger.db');

/** A standalone beads-style project created by `bd init`. */
export const STANDALONE_DIR = '.beads';
export const STANDALONE_LEDGER = join(STANDALONE_DIR, 'beads.db');
