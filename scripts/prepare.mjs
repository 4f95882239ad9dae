// npm's `prepare`: builds dist/ for `npm ci`, `npm pack` and installs from git. For a git install,
// npm 10/11 run this without the dev dependencies the build needs (npm/cli#8440), so fetch them
// first, with the global-install settings of the outer `npm i -g` removed.
import { execSync } from 'node:child_process';
import { createRequire } from 'node:module';

try {
  createRequire(import.meta.url).resolve('wabt');
} catch {
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^npm_config_(global|location|prefix|allow_scripts)$/i.test(key)));
  execSync('npm install --include=dev --no-save --ignore-scripts --no-audit --no-fund --loglevel=error', { stdio: ['ignore', 2, 2], env });
}
// stdout stays clean for `npm pack --json`.
execSync('npm run build --silent', { stdio: ['ignore', 2, 2] });
