import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

/** The layering of docs/DESIGN.md, checked on the sources: who may import whom, and no cycle. */
const SRC = fileURLToPath(new URL('../../src/', import.meta.url));
const MAX_LINES = 500;

function sources(dir: string, ext = '.ts'): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    return entry.isDirectory() ? sources(path, ext) : entry.name.endsWith(ext) ? [path] : [];
  });
}

/** Each source file (relative to src/, without .ts) and the source files it imports, types included. */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of sources(SRC)) {
    const text = readFileSync(file, 'utf8');
    const targets = [...text.matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)\.js'/g)].map((m) => relative(SRC, resolve(dirname(file), m[1]!)));
    graph.set(relative(SRC, file).replace(/\.ts$/, ''), [...new Set(targets)]);
  }
  return graph;
}

const folder = (module: string): string => (module.includes('/') ? module.split('/')[0]! : '.');

/** Folders each folder must not import from (the rules: the container and threads know nothing of coding choices). */
const FORBIDDEN: Record<string, string[]> = {
  container: ['delta', 'chunks', 'parallel'],
  parallel: ['codec', 'delta', 'formats'],
  codec: ['delta', 'chunks', 'container', 'parallel', 'formats'],
  formats: ['codec', 'delta', 'chunks', 'container', 'parallel'],
  io: ['codec', 'delta', 'chunks', 'container', 'parallel', 'formats'],
  kernels: ['codec', 'delta', 'chunks', 'container', 'parallel', 'formats', 'io'],
};

describe('architecture', () => {
  const graph = importGraph();

  it('no folder imports from one it must not', () => {
    const wrong = [...graph].flatMap(([module, targets]) =>
      targets.filter((target) => FORBIDDEN[folder(module)]?.includes(folder(target))).map((target) => `${module} -> ${target}`),
    );
    assert.deepEqual(wrong, []);
  });

  it('no import cycle', () => {
    const state = new Map<string, 'open' | 'done'>();
    const cycles: string[] = [];
    const visit = (module: string, path: string[]): void => {
      if (state.get(module) === 'done') return;
      if (state.get(module) === 'open') {
        cycles.push([...path.slice(path.indexOf(module)), module].join(' -> '));
        return;
      }
      state.set(module, 'open');
      for (const target of graph.get(module) ?? []) visit(target, [...path, module]);
      state.set(module, 'done');
    };
    for (const module of graph.keys()) visit(module, []);
    assert.deepEqual(cycles, []);
  });

  it(`no source file over ${MAX_LINES} lines`, () => {
    const long = [...sources(SRC), ...sources(SRC, '.wat')]
      .map((file) => [relative(SRC, file), readFileSync(file, 'utf8').split('\n').length] as const)
      .filter(([, lines]) => lines > MAX_LINES);
    assert.deepEqual(long, []);
  });
});
