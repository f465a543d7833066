import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { startChild } from '../child';
import { dropQueues } from '../cleanup';
import { summarizeProfile, type ProfileSummary } from '../cpu-profile';
import type { BenchOptions } from '../options';
import { SpillwayState } from '../systems/spillway-state';
import { benchQueue, waitFor } from '../stack';
import { load, single } from './enqueue';

/** Where the .cpuprofile files go: under .stack/, which git ignores. */
export const PROFILE_DIR = path.join(__dirname, '..', '..', '.stack', 'bench-profiles');
/** Runs whose profiles are kept; older ones are removed when a new run writes its own. */
const KEEP_RUNS = 5;
/** The enqueue load while the API is profiled: the middle concurrency of a full run. */
export const PROFILE_CONNECTIONS = 64;

export interface ProfilesResult {
  /** The API under the single-endpoint enqueue load. */
  api: ProfileSummary;
  /** The worker draining the tasks that load queued. */
  worker: ProfileSummary;
  /** Tasks the worker drained while profiled. */
  drainedTasks: number;
}

/**
 * CPU profiles of Spillway where it misses its targets, in a separate pass so the profiler's
 * overhead is in no measured figure: the API while autocannon submits single tasks (the enqueue
 * scenario at 64 connections), then a worker draining what that queued (the drain scenario).
 */
export async function profilesScenario(options: BenchOptions): Promise<ProfilesResult> {
  const dir = path.join(PROFILE_DIR, new Date().toISOString().replace(/[:.]/g, '-'));
  mkdirSync(dir, { recursive: true });
  // Named by ISO time, so sorting by name sorts by age.
  for (const old of readdirSync(PROFILE_DIR).sort().slice(0, -KEEP_RUNS)) {
    rmSync(path.join(PROFILE_DIR, old), { recursive: true, force: true });
  }
  const files = {
    api: path.join(dir, 'api-enqueue.cpuprofile'),
    worker: path.join(dir, 'worker-drain.cpuprofile'),
  };
  const queue = benchQueue('spillway');
  const state = new SpillwayState(queue);
  try {
    const api = await startChild('spillway', 'api', queue, { cpuProfile: files.api });
    let accepted: number;
    try {
      const r = await load(api.url + '/v1/tasks', single, PROFILE_CONNECTIONS, options.profileSeconds);
      accepted = r['2xx'];
    } finally {
      await api.stop();
    }
    const worker = await startChild('spillway', 'worker', queue, { cpuProfile: files.worker });
    try {
      await waitFor(
        async () => ((await state.counts()).succeeded ?? 0) >= accepted || undefined,
        Math.max(120_000, accepted * 2),
        `${accepted} profiled tasks to drain`,
      );
    } finally {
      await worker.stop();
    }
    for (const file of Object.values(files)) {
      if (!existsSync(file)) throw new Error(`no profile written to ${file}`);
    }
    const result = {
      api: summarizeProfile(files.api),
      worker: summarizeProfile(files.worker),
      drainedTasks: accepted,
    };
    console.log(`profiles written to ${dir}`);
    return result;
  } finally {
    state.close();
    await dropQueues([{ system: 'spillway', queue }]);
  }
}
