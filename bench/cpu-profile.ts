import { readFileSync } from 'node:fs';
import path from 'node:path';

/** The parts of a .cpuprofile (V8's Profiler.Profile) the summary reads. */
interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

export interface SelfTime {
  name: string;
  /** Where it lives: a project file (with line), a package, Node.js core, or a V8 pseudo-frame. */
  where: string;
  ms: number;
  /** Share of the busy time (everything but idle). */
  share: number;
}

export interface ProfileSummary {
  file: string;
  /** Wall time the profile covers, and how much of it the process was not idle. */
  totalMs: number;
  busyMs: number;
  functions: SelfTime[];
  modules: SelfTime[];
  /** Every module's time rolled up by what it does (see ROLES), biggest first. */
  roles: SelfTime[];
}

const root = path.join(__dirname, '..');
/** V8's pseudo-frames: time not in any JavaScript function. */
const PSEUDO = new Set(['(program)', '(garbage collector)', '(idle)', '(root)']);

const fileOf = (url: string) => (url.startsWith('file://') ? decodeURIComponent(new URL(url).pathname) : url);

/** Node.js core by area: node:internal/streams/writable → "Node.js streams", node:_http_server → "Node.js http". */
function coreArea(url: string): string {
  const first = url
    .replace(/^node:(internal\/)?/, '')
    .split('/')[0]!
    .replace(/^_/, '')
    .replace(/^(http|stream)_.*$/, '$1');
  // node:stream and node:internal/streams/* are one area.
  return `Node.js ${first === 'stream' ? 'streams' : first}`;
}

/** Which package, project file or runtime part a frame's script belongs to. */
export function moduleOf(url: string, name: string): string {
  if (PSEUDO.has(name)) return name;
  if (url === '') return '(native)';
  if (url.startsWith('node:')) return coreArea(url);
  const file = fileOf(url);
  const inModules = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(file);
  if (inModules) return inModules[1]!;
  return path.relative(root, file) || file;
}

/** A frame's file and line, short: project-relative, or from the package's own directory. */
function locationOf(url: string, name: string, line: number): string {
  if (PSEUDO.has(name) || url === '') return moduleOf(url, name);
  if (url.startsWith('node:')) return `${url}:${line + 1}`;
  const file = fileOf(url);
  const inModules = /.*node_modules\/(.*)$/.exec(file);
  return `${inModules ? inModules[1] : path.relative(root, file)}:${line + 1}`;
}

/** Express and what it pulls in to serve a JSON request: what bare Express runs too. */
const HTTP_PACKAGES = new Set([
  'express',
  'router',
  'body-parser',
  'raw-body',
  'on-finished',
  'finalhandler',
  'type-is',
  'content-type',
  'iconv-lite',
  'qs',
  'send',
  'mime-types',
  'media-typer',
  'depd',
  'debug',
  'statuses',
]);

/** Packages and areas rolled up into what they do, for the one-line summary. */
const ROLES: [string, (module: string) => boolean][] = [
  ['Kafka client (kafkajs)', (m) => m === 'kafkajs'],
  [
    'Redis client (ioredis)',
    (m) => ['ioredis', '@ioredis/commands', 'redis-parser', 'denque', 'cluster-key-slot'].includes(m),
  ],
  ['Spillway code', (m) => m.startsWith('services/')],
  ['metrics (prom-client)', (m) => ['prom-client', 'tdigest', 'bintrees'].includes(m)],
  ['validation (ajv)', (m) => m.startsWith('ajv')],
  ['HTTP server and JSON (Express and its packages)', (m) => HTTP_PACKAGES.has(m)],
  ['Node.js core (sockets, streams, timers, http; for all of the above)', (m) => m.startsWith('Node.js ')],
  ['garbage collection', (m) => m === '(garbage collector)'],
  ['V8 and native code', (m) => m === '(native)' || m === '(program)'],
];

export function roleOf(module: string): string {
  return ROLES.find(([, matches]) => matches(module))?.[0] ?? 'other packages';
}

/** Self time per function and per module, biggest first, as shares of the time not idle. */
export function summarizeProfile(file: string, top = 10): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  const selfUs = new Map<number, number>();
  // Each sample stands for the time until the next one (the last: the mean interval).
  const mean = samples.length > 0 ? (profile.endTime - profile.startTime) / samples.length : 0;
  samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (deltas[i + 1] ?? mean)));

  const functions = new Map<string, { name: string; where: string; us: number }>();
  const modules = new Map<string, number>();
  let idleUs = 0;
  let totalUs = 0;
  for (const [id, us] of selfUs) {
    const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
    totalUs += us;
    const name = functionName || '(anonymous)';
    if (name === '(idle)') {
      idleUs += us;
      continue;
    }
    const module = moduleOf(url, name);
    const where = locationOf(url, name, lineNumber);
    const key = `${name}|${where}`;
    const entry = functions.get(key) ?? { name, where, us: 0 };
    entry.us += us;
    functions.set(key, entry);
    modules.set(module, (modules.get(module) ?? 0) + us);
  }
  const busyUs = Math.max(1, totalUs - idleUs);
  const rank = <T extends { us: number }>(xs: T[], n = top) => xs.sort((a, b) => b.us - a.us).slice(0, n);
  return {
    file,
    totalMs: totalUs / 1000,
    busyMs: busyUs / 1000,
    functions: rank([...functions.values()]).map((f) => ({
      name: f.name,
      where: f.where,
      ms: f.us / 1000,
      share: f.us / busyUs,
    })),
    roles: rank(
      [...rolesOf(modules)].map(([name, us]) => ({ name, us })),
      ROLES.length + 1,
    ).map((r) => ({ name: r.name, where: r.name, ms: r.us / 1000, share: r.us / busyUs })),
    modules: rank([...modules].map(([name, us]) => ({ name, us }))).map((m) => ({
      name: m.name,
      where: m.name,
      ms: m.us / 1000,
      share: m.us / busyUs,
    })),
  };
}

function rolesOf(modules: Map<string, number>): Map<string, number> {
  const roles = new Map<string, number>();
  for (const [module, us] of modules) roles.set(roleOf(module), (roles.get(roleOf(module)) ?? 0) + us);
  return roles;
}
