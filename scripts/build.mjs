// Bundles each CLI into one CommonJS file. Agents call `gt`/`bd` thousands of times, so start-up time
// matters: one file instead of hundreds, and CommonJS because Node 20's ESM loader adds ~40% to a
// bare start (measured: bd ready 171 ms as CJS vs 232 ms as ESM, bare node 130 ms, same loaded machine).
import { existsSync, writeFileSync } from 'node:fs';
import { build } from 'esbuild';

// Entry points that exist in this checkout (later subsystems add theirs here).
const entries = {
  gt: 'src/cli/gt/main.ts',
  bd: 'src/cli/bd/main.ts',
  sim: 'src/runtime/sim/main.ts',
  daemon: 'src/daemon/entry.ts',
};
const entryPoints = Object.fromEntries(Object.entries(entries).filter(([, file]) => existsSync(file)));

/**
 * zod re-exports every message locale (~400 KB of the bundle, a third of what `gt` parses at each start);
 * we only ever use English, so the locale index resolves to English alone.
 */
const englishOnlyZodLocales = {
  name: 'english-only-zod-locales',
  setup(pluginBuild) {
    pluginBuild.onResolve({ filter: /\/locales\/index\.js$/ }, (args) =>
      args.importer.includes('node_modules/zod/')
        ? { path: 'zod-locales-en', namespace: 'gt-stub' }
        : undefined,
    );
    pluginBuild.onLoad({ filter: /.*/, namespace: 'gt-stub' }, () => ({
      contents: "export { default as en } from 'zod/v4/locales/en.js';",
      resolveDir: process.cwd(),
      loader: 'js',
    }));
  },
};

await build({
  plugins: [englishOnlyZodLocales],
  entryPoints,
  outdir: 'dist',
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  // Native module: loaded from node_modules at run time.
  external: ['better-sqlite3'],
  // Sources are ESM (tests run them directly); give bundled code a working import.meta.url.
  banner: { js: "const __gtImportMetaUrl = require('node:url').pathToFileURL(__filename).href;" },
  define: { 'import.meta.url': '__gtImportMetaUrl' },
  logLevel: 'warning',
  legalComments: 'none',
});

// The package is ESM; these bundles are CommonJS.
writeFileSync('dist/package.json', '{ "type": "commonjs" }\n');
