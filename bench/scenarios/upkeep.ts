import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { RedisKeys } from '../../services/shared/redis/keys';
import { MAX_TRANSITIONS_PER_CALL } from '../../services/shared/redis/redis-task-store';
import { TRANSITION_LUA } from '../../services/shared/redis/transition-script';
import { deleteMatching } from '../../tests/helpers/redis-keys';
import { startChild } from '../child';
import { dropQueues } from '../cleanup';
import { CpuMeter, stackPids, type CpuPerTask } from '../cpu-time';
import type { BenchOptions } from '../options';
import type { SystemName } from '../serve';
import { benchQueue, REDIS_URL } from '../stack';
import { summarize, type Summary } from '../stats';
import { benchmarkTransitions, redisBenchmarkAvailable, tasksPerSecOf, transitionCalls } from './ceilings';
import { oneDrain } from './drain';
import { batchOf, load, single } from './enqueue';

/** One figure with the listing's indexes kept (TASK_INDEXES=true) and without: medians over turns. */
export interface OnOff {
  on: Summary;
  off: Summary;
}

/** A process's µs of CPU per task, on and off; absent where /proc could not be read. */
export type CpuOnOff = Partial<Record<'own' | 'Redis', OnOff>>;

export interface UpkeepSubmit {
  endpoint: 'single' | 'batch';
  connections: number;
  /** Tasks per request. */
  perRequest: number;
  tasksPerSec: OnOff;
  /** The API's (own) and Redis' CPU per accepted task. */
  cpu: CpuOnOff;
  /** Non-2xx answers and socket errors over all turns, on and off together. */
  failures: number;
}

export interface UpkeepResult {
  turns: number;
  /** (a) Redis alone: redis-benchmark of the transition script with its indexing flag 1 and 0. */
  redis: {
    requests: number;
    steps: ({ status: string } & OnOff)[];
    /** The three steps together: tasks per second Redis allows. */
    tasksPerSec?: OnOff;
    unavailable?: string;
  };
  /** (b) The API's intake. */
  submit: UpkeepSubmit[];
  /** (c) One worker draining pre-published tasks; `cpu.own` is the worker's. */
  drain: { tasks: number; tasksPerSec: OnOff; cpu: CpuOnOff };
}

type Side = 'on' | 'off';
const SIDES: readonly Side[] = ['on', 'off'];
const SYSTEM: Record<Side, SystemName> = { on: 'spillway', off: 'spillway-unindexed' };

/** Collects one figure per side and turn. */
class Turns {
  private readonly values = new Map<string, Record<Side, number[]>>();

  add(name: string, side: Side, value: number | undefined): void {
    if (value === undefined || !Number.isFinite(value)) return;
    if (!this.values.has(name)) this.values.set(name, { on: [], off: [] });
    this.values.get(name)![side].push(value);
  }

  addCpu(name: string, side: Side, cpu: CpuPerTask, own: string): void {
    this.add(`${name}:own`, side, cpu[own]);
    this.add(`${name}:Redis`, side, cpu.Redis);
  }

  get(name: string): OnOff | undefined {
    const v = this.values.get(name);
    return v && v.on.length > 0 && v.off.length > 0
      ? { on: summarize(v.on), off: summarize(v.off) }
      : undefined;
  }

  cpu(name: string): CpuOnOff {
    const own = this.get(`${name}:own`);
    const redis = this.get(`${name}:Redis`);
    return { ...(own && { own }), ...(redis && { Redis: redis }) };
  }
}

/**
 * What the listing's indexes cost the paths every task takes: Redis' own ceiling for the
 * transition script, the API's intake and a worker's drain, each with TASK_INDEXES on and off
 * in alternating turns (on, off, on, off, …) so drift on the shared machine weighs on both alike.
 * The report compares the medians' ratio, on / off.
 */
export async function upkeepScenario(options: BenchOptions): Promise<UpkeepResult> {
  const redis = await redisUpkeep(options).catch((err: unknown) => ({
    requests: options.upkeepRedisRequests,
    steps: [],
    unavailable: `redis-benchmark failed: ${(err instanceof Error ? err.message : String(err)).split('\n')[0]}`,
  }));
  const submit = await submitUpkeep(options);
  const drain = await drainUpkeep(options);
  return { turns: options.upkeepTurns, redis, submit, drain };
}

async function redisUpkeep(options: BenchOptions): Promise<UpkeepResult['redis']> {
  const requests = options.upkeepRedisRequests;
  if (!(await redisBenchmarkAvailable())) {
    return { requests, steps: [], unavailable: 'redis-benchmark is not installed' };
  }
  const redis = new Redis(REDIS_URL);
  const turns = new Turns();
  let statuses: string[] = [];
  try {
    const sha = (await redis.script('LOAD', TRANSITION_LUA)) as string;
    for (let turn = 0; turn < options.upkeepTurns; turn++) {
      for (const side of SIDES) {
        // A fresh queue's keys each time: the indexes of a previous turn would make this one's bigger.
        const queue = `bench-upkeep-${randomBytes(4).toString('hex')}`;
        try {
          const steps = transitionCalls(queue, Date.now(), side === 'on');
          statuses = steps.map((s) => s.status);
          const rates: number[] = [];
          // Each id drawn about once per step, as each task makes each transition once: the
          // indexes are written on a record's creation and on a change of status, not on a repeat.
          for (const { args } of steps) {
            rates.push(await benchmarkTransitions(sha, args, requests, requests * MAX_TRANSITIONS_PER_CALL));
          }
          rates.forEach((rate, i) => turns.add(statuses[i]!, side, rate));
          turns.add('task', side, tasksPerSecOf(rates));
          console.log(`upkeep redis ${side}: ${rates.map((r) => Math.round(r)).join(' / ')} transitions/s`);
        } finally {
          await deleteMatching(redis, `${new RedisKeys(queue).prefix}*`);
        }
      }
    }
  } finally {
    redis.disconnect();
  }
  const tasksPerSec = turns.get('task');
  return {
    requests,
    steps: statuses.map((status) => ({ status, ...turns.get(status)! })),
    ...(tasksPerSec && { tasksPerSec }),
  };
}

async function submitUpkeep(options: BenchOptions): Promise<UpkeepSubmit[]> {
  const plans = [
    { endpoint: 'single' as const, path: '/v1/tasks', body: single, connections: 64, perRequest: 1 },
    {
      endpoint: 'batch' as const,
      path: '/v1/tasks/batch',
      body: batchOf(options.batchSize),
      connections: 16,
      perRequest: options.batchSize,
    },
  ];
  const turns = new Turns();
  const failures = new Map(plans.map((p) => [p.endpoint, 0]));
  for (let turn = 0; turn < options.upkeepTurns; turn++) {
    for (const side of SIDES) {
      const system = SYSTEM[side];
      const queue = benchQueue(system);
      const api = await startChild(system, 'api', queue);
      try {
        const pids = { API: api.pid, ...(await stackPids()) };
        await load(api.url + '/v1/tasks', single, 16, options.quick ? 0.5 : 2);
        for (const plan of plans) {
          const meter = new CpuMeter(pids);
          const run = await load(api.url + plan.path, plan.body, plan.connections, options.upkeepSeconds);
          const tasks = run['2xx'] * plan.perRequest;
          turns.add(plan.endpoint, side, tasks / run.duration);
          turns.addCpu(plan.endpoint, side, meter.perTask(tasks), 'API');
          failures.set(plan.endpoint, failures.get(plan.endpoint)! + run.non2xx + run.errors + run.timeouts);
          console.log(`upkeep submit ${plan.endpoint} ${side}: ${Math.round(tasks / run.duration)} tasks/s`);
        }
      } finally {
        await api.stop();
        await dropQueues([{ system, queue }]);
      }
    }
  }
  return plans.map((plan) => ({
    endpoint: plan.endpoint,
    connections: plan.connections,
    perRequest: plan.perRequest,
    tasksPerSec: turns.get(plan.endpoint)!,
    cpu: turns.cpu(plan.endpoint),
    failures: failures.get(plan.endpoint)!,
  }));
}

async function drainUpkeep(options: BenchOptions): Promise<UpkeepResult['drain']> {
  const turns = new Turns();
  for (let turn = 0; turn < options.upkeepTurns; turn++) {
    for (const side of SIDES) {
      const { rate, cpu } = await oneDrain(SYSTEM[side], options.upkeepDrainTasks);
      turns.add('drain', side, rate);
      turns.addCpu('drain', side, cpu, 'worker');
      console.log(`upkeep drain ${side}: ${Math.round(rate)} tasks/s`);
    }
  }
  return { tasks: options.upkeepDrainTasks, tasksPerSec: turns.get('drain')!, cpu: turns.cpu('drain') };
}
