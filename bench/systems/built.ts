import path from 'node:path';

/**
 * A module of Spillway as its images run it: the JavaScript tsc compiled into dist/ (`npm run
 * bench` builds it first), not the TypeScript through tsx, whose transform adds a call to every
 * closure created (esbuild's keepNames): about 5% of a draining worker's time. The types come
 * from the sources.
 */
export function built<Module>(module: string): Module {
  return require(path.join(__dirname, '..', '..', 'dist', 'services', module)) as Module;
}
