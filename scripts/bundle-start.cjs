#!/usr/bin/env node
// The command's first file (copied to dist/src/bundle/main.js by scripts/bundle.mjs): runs the
// bundled command, cli.js, with V8's code cache that the build made for it, which spares compiling
// it at every start (docs/DESIGN.md, "Start-up"). V8 rejects a cache made by another Node version
// or with other flags, and then compiles the source as usual.
'use strict';
const { readFileSync, writeFileSync } = require('node:fs');
const { createRequire } = require('node:module');
const { join } = require('node:path');
const { Script } = require('node:vm');
// The command's own checksum, which every command that codes loads anyway.
const { xxh64 } = require('@node-rs/xxhash');

const filename = join(__dirname, 'cli.js');
const cacheFile = `${filename}.cache`;
const source = readFileSync(filename);
// V8 checks a cache against its source by length alone, and does not check its own bytes: a damaged
// cache aborts the process. So the cache starts with the xxh64 of the rest, seeded with the source's.
const seed = xxh64(source);
let cachedData;
try {
  const bytes = readFileSync(cacheFile);
  if (bytes.length > 8 && bytes.readBigUInt64LE(0) === xxh64(bytes.subarray(8), seed)) cachedData = bytes.subarray(8);
} catch {
  // No cache: compiled from source.
}
const script = new Script(`(function (exports, require, module, __filename, __dirname) {${source.toString('utf8')}\n})`, { filename, cachedData });
// The build (scripts/code-cache.mjs) runs commands with this naming the cache, each adding what it compiled.
if (process.env.MITHRIL_WRITE_CODE_CACHE === cacheFile) {
  process.once('exit', () => {
    const payload = script.createCachedData();
    const check = Buffer.alloc(8);
    check.writeBigUInt64LE(xxh64(payload, seed));
    writeFileSync(cacheFile, Buffer.concat([check, payload]));
  });
}
const cli = { exports: {} };
script.runInThisContext()(cli.exports, createRequire(filename), cli, filename, __dirname);
