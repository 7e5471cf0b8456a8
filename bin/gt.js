#!/usr/bin/env node
'use strict';
// `gt` is one large bundle that agents call constantly; most of a call's start-up is V8 compiling it.
// Load it through V8's code cache (kept per user in the temp dir, keyed by the bundle's content), and
// fall back to a plain require if anything about the cache is off.
const path = require('node:path');
const bundle = path.join(__dirname, '..', 'dist', 'gt.js');

function cachedLoader() {
  if (process.env.GT_NO_CODE_CACHE) return null;
  const fs = require('node:fs');
  const vm = require('node:vm');
  const os = require('node:os');
  const Module = require('node:module');
  const source = fs.readFileSync(bundle, 'utf8');
  const key = require('node:crypto').createHash('sha1').update(source).update(process.version).digest('hex');
  const dir = path.join(
    os.tmpdir(),
    `gt-code-cache-${typeof process.getuid === 'function' ? process.getuid() : 'user'}`,
  );
  const file = path.join(dir, `${key}.bin`);
  let cachedData;
  try {
    cachedData = fs.readFileSync(file);
  } catch {}
  const script = new vm.Script(Module.wrap(source), { filename: bundle, cachedData });
  if (cachedData === undefined || script.cachedDataRejected) {
    process.once('exit', () => {
      try {
        fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
        const temp = `${file}.${process.pid}`;
        fs.writeFileSync(temp, script.createCachedData(), { mode: 0o600 });
        fs.renameSync(temp, file);
        // Each build leaves its own entry: drop the ones nobody has used for a week.
        const weekAgo = Date.now() - 7 * 24 * 3600 * 1000;
        for (const name of fs.readdirSync(dir)) {
          const other = path.join(dir, name);
          if (other !== file && fs.statSync(other).atimeMs < weekAgo) fs.rmSync(other, { force: true });
        }
      } catch {}
    });
  }
  const mod = new Module(bundle, module);
  mod.filename = bundle;
  mod.paths = Module._nodeModulePaths(path.dirname(bundle));
  return () =>
    script
      .runInThisContext()
      .call(mod.exports, mod.exports, Module.createRequire(bundle), mod, bundle, path.dirname(bundle));
}

let run = null;
try {
  run = cachedLoader();
} catch {
  run = null;
}
if (run) run();
else require(bundle);
