import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { REDIS_URL } from './stack';

export interface Machine {
  cpus: string;
  cores: number;
  memoryGiB: number;
  os: string;
  node: string;
  kafka: string;
  redis: string;
  packages: Record<string, string>;
  /** The code measured: its commit, and whether tracked files differed from it. */
  commit: string;
}

const root = path.join(__dirname, '..');

function packageVersion(name: string): string {
  try {
    const file = path.join(root, 'node_modules', name, 'package.json');
    return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

/** The broker's version from the jars the local stack runs (scripts/stack.sh writes this classpath). */
function kafkaVersion(): string {
  try {
    const classpath = readFileSync(path.join(root, '.stack/kafka/classpath.txt'), 'utf8');
    return /kafka_2\.\d+-([\d.]+)\.jar/.exec(classpath)?.[1] ?? 'unknown';
  } catch {
    return 'unknown (not the local stack)';
  }
}

async function redisVersion(): Promise<string> {
  const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    return /redis_version:(\S+)/.exec(await redis.info('server'))?.[1] ?? 'unknown';
  } finally {
    redis.disconnect();
  }
}

function commit(): string {
  const git = (...args: string[]) =>
    execFileSync('git', args, { cwd: root, encoding: 'utf8', stdio: 'pipe' });
  try {
    const head = git('rev-parse', '--short', 'HEAD').trim();
    return git('status', '--porcelain', '--untracked-files=no').trim() === ''
      ? head
      : `${head} with uncommitted changes`;
  } catch {
    return 'unknown (not a git checkout)';
  }
}

export async function describeMachine(): Promise<Machine> {
  return {
    cpus: os.cpus()[0]?.model ?? 'unknown',
    cores: os.cpus().length,
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    os: `${os.type()} ${os.release()}`,
    node: process.version,
    kafka: kafkaVersion(),
    redis: await redisVersion(),
    packages: Object.fromEntries(
      ['kafkajs', 'bullmq', 'ioredis', 'express', 'autocannon'].map((p) => [p, packageVersion(p)]),
    ),
    commit: commit(),
  };
}
