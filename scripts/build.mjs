// Bundles each CLI into one ESM file so a command loads one module graph, not hundreds of files:
// agents call `gt`/`bd` thousands of times, so start-up time matters.
import { existsSync } from 'node:fs';
import { build } from 'esbuild';

// Entry points that exist in this checkout (later subsystems add theirs here).
const entries = { gt: 'src/cli/gt/main.ts', bd: 'src/cli/bd/main.ts', sim: 'src/runtime/sim/main.ts' };
const entryPoints = Object.fromEntries(Object.entries(entries).filter(([, file]) => existsSync(file)));

await build({
  entryPoints,
  outdir: 'dist',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // Native module: loaded from node_modules at run time.
  external: ['better-sqlite3'],
  // Bundled CommonJS dependencies call require() for Node built-ins.
  banner: {
    js: "import { createRequire as __gtCreateRequire } from 'node:module'; const require = __gtCreateRequire(import.meta.url);",
  },
  chunkNames: 'chunks/[name]-[hash]',
  logLevel: 'warning',
  legalComments: 'none',
});
