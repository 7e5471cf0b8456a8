import { isGtError } from '../core/errors';
import { runDaemon } from './main';

/** dist/daemon.js: the daemon process (its own bundle, so the gt CLI never loads daemon-only code). */
runDaemon().then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (isGtError(error)) {
      process.stderr.write(`error[${error.code}]: ${error.message}\n`);
      if (error.hint) process.stderr.write(`  hint: ${error.hint}\n`);
      process.exit(1);
    }
    process.stderr.write(
      `daemon failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exit(70);
  },
);
