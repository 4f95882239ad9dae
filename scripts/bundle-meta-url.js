// Injected into the CommonJS bundle by scripts/bundle.mjs in place of import.meta.url, which only ES modules have.
export const importMetaUrl = require('node:url').pathToFileURL(__filename).href;
