#!/usr/bin/env node
// The command's first file (copied to dist/src/bundle/main.js by scripts/bundle.mjs): runs the
// bundled command, cli.js, with V8's code cache that the build made for it, which spares compiling
// it at every start (docs/DESIGN.md, "Start-up"). V8 rejects a cache made by another Node version
// or with other flags, and then compiles the source as usual; it checks the source only by its
// length, so the build always deletes and remakes the two together (bundle.mjs, code-cache.mjs).
'use strict';
const { readFileSync, writeFileSync } = require('node:fs');
const { createRequire } = require('node:module');
const { join } = require('node:path');
const { Script } = require('node:vm');

const filename = join(__dirname, 'cli.js');
const cacheFile = `${filename}.cache`;
let cachedData;
try {
  cachedData = readFileSync(cacheFile);
} catch {
  // No cache: compiled from source.
}
const script = new Script(`(function (exports, require, module, __filename, __dirname) {${readFileSync(filename, 'utf8')}\n})`, { filename, cachedData });
// The build (scripts/code-cache.mjs) runs commands with this naming the cache, each adding what it compiled.
if (process.env.MITHRIL_WRITE_CODE_CACHE === cacheFile) process.once('exit', () => writeFileSync(cacheFile, script.createCachedData()));
const cli = { exports: {} };
script.runInThisContext()(cli.exports, createRequire(filename), cli, filename, __dirname);
