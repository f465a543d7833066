import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { request } from '../helpers/http';
import { apiFor, workerFor } from '../helpers/services';
import { uniqueQueue } from '../helpers/stack';
import { helm, HELM_INSTALL_TIMEOUT_MS, only, render, ROOT, type K8sObject } from './chart';

// render() uses release "spw" in namespace "tasks": the job names relabeling gives the targets.
const WORKER = { job: 'spw-spillway-worker', namespace: 'tasks' };
const API = { job: 'spw-spillway-api', namespace: 'tasks' };

let objects: K8sObject[];
let rule: K8sObject;
let dashboard: string;
let promtool: string;
const dir = mkdtempSync(join(tmpdir(), 'spillway-rules-'));

beforeAll(() => {
  helm();
  promtool = execFileSync('bash', [join(ROOT, 'scripts', 'chart', 'promtool.sh')], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  }).trim();
  objects = render();
  rule = only(objects, 'PrometheusRule');
  dashboard = only(objects, 'ConfigMap', '-dashboard').data['spillway.json'];
  writeFileSync(join(dir, 'rules.yaml'), stringify({ groups: rule.spec.groups }));
}, HELM_INSTALL_TIMEOUT_MS);

function promtoolRun(args: string[]): string {
  const result = spawnSync(promtool, args, { encoding: 'utf8', cwd: dir });
  const output = result.stdout + result.stderr;
  if (result.status !== 0) throw new Error(`promtool ${args.join(' ')} failed:\n${output}`);
  return output;
}

const labels = (l: Record<string, string>) =>
  `{${Object.entries(l)
    .map(([k, v]) => `${k}="${v}"`)
    .join(',')}}`;

describe('the alert rules', () => {
  it('pass promtool check rules', () => {
    expect(promtoolRun(['check', 'rules', 'rules.yaml'])).toMatch(/SUCCESS: 7 rules found/);
  });

  it('cover the alerts the issue names, and the oldest waiting task', () => {
    const alerts = rule.spec.groups.flatMap((g: { rules: { alert: string }[] }) =>
      g.rules.map((r) => r.alert),
    );
    expect(alerts.sort()).toEqual([
      'SpillwayApiErrorRate',
      'SpillwayDeadLettersGrowing',
      'SpillwayLagGrowing',
      'SpillwayNoWorkerReady',
      'SpillwayOldestTaskTooOld',
      'SpillwayRedisMemoryHigh',
      'SpillwayTasksWaitingTooLong',
    ]);
  });

  // One promtool case per alert: the series that should trigger it, and when it fires.
  const cases: {
    alert: string;
    series: { series: string; values: string }[];
    at: string;
    fires: boolean;
    /** The description the alert then carries: checks that the annotation templates render. */
    description?: string;
  }[] = [
    {
      alert: 'SpillwayLagGrowing',
      series: [
        { series: `spillway_consumer_lag${labels({ ...WORKER, partition: '0' })}`, values: '0+10x40' },
      ],
      at: '25m',
      fires: true,
      description:
        'The lag of spillway.default.workers has grown for 10m (250 uncommitted messages). Workers may be at maxReplicaCount or stuck.',
    },
    {
      // A large but steady backlog is being worked off at the rate it arrives: no page.
      alert: 'SpillwayLagGrowing',
      series: [{ series: `spillway_consumer_lag${labels({ ...WORKER, partition: '0' })}`, values: '500x40' }],
      at: '25m',
      fires: false,
    },
    {
      alert: 'SpillwayTasksWaitingTooLong',
      series: [
        {
          series: `spillway_task_queue_wait_seconds_bucket${labels({ ...WORKER, type: 'echo', le: '60' })}`,
          values: '0x30',
        },
        {
          series: `spillway_task_queue_wait_seconds_bucket${labels({ ...WORKER, type: 'echo', le: '600' })}`,
          values: '0+6x30',
        },
        {
          series: `spillway_task_queue_wait_seconds_bucket${labels({ ...WORKER, type: 'echo', le: '+Inf' })}`,
          values: '0+6x30',
        },
      ],
      at: '15m',
      fires: true,
      description: '95% of tasks waited up to 9m 33s before a worker started them (threshold 300 s).',
    },
    {
      alert: 'SpillwayOldestTaskTooOld',
      series: [{ series: `spillway_oldest_waiting_task_age_seconds${labels(API)}`, values: '0+60x30' }],
      at: '15m',
      fires: true,
      description:
        'The oldest waiting task has waited 15m 0s (threshold 600 s). Workers may be stuck, at maxReplicaCount, or not running.',
    },
    {
      alert: 'SpillwayDeadLettersGrowing',
      series: [
        {
          series: `spillway_dead_letters_total${labels({ ...WORKER, reason: 'attempts-exhausted' })}`,
          values: '0+1x30',
        },
      ],
      at: '25m',
      fires: true,
      description: 'Tasks are given up on; list them with GET /v1/dead-letters and replay them once fixed.',
    },
    {
      alert: 'SpillwayApiErrorRate',
      series: [
        {
          series: `spillway_http_requests_total${labels({ ...API, method: 'POST', route: '/v1/tasks', status: '503' })}`,
          values: '0+60x30',
        },
        {
          series: `spillway_http_requests_total${labels({ ...API, method: 'POST', route: '/v1/tasks', status: '202' })}`,
          values: '0+60x30',
        },
      ],
      at: '15m',
      fires: true,
      description: '50% of API requests fail (503 means Kafka or Redis is unavailable).',
    },
    {
      // 900 of 1000 bytes on both API pods: 90% over the 80% threshold.
      alert: 'SpillwayRedisMemoryHigh',
      series: ['a', 'b'].flatMap((pod) => [
        { series: `spillway_redis_used_memory_bytes${labels({ ...API, pod })}`, values: '900x20' },
        { series: `spillway_redis_maxmemory_bytes${labels({ ...API, pod })}`, values: '1000x20' },
      ]),
      at: '15m',
      fires: true,
      description:
        'Redis uses 90% of its maxmemory; at 100% it refuses writes and tasks stop finishing. Shorten finishedTaskTtlSeconds or deadLetterTtlSeconds, or raise redis.maxmemory with its memory limit.',
    },
    {
      // No maxmemory (0): nothing to compare with, so no alert however much is used.
      alert: 'SpillwayRedisMemoryHigh',
      series: [
        { series: `spillway_redis_used_memory_bytes${labels(API)}`, values: '900x20' },
        { series: `spillway_redis_maxmemory_bytes${labels(API)}`, values: '0x20' },
      ],
      at: '15m',
      fires: false,
    },
    {
      alert: 'SpillwayNoWorkerReady',
      series: [
        {
          series: `kube_deployment_status_replicas_available${labels({ namespace: 'tasks', deployment: WORKER.job })}`,
          values: '0x20',
        },
      ],
      at: '10m',
      fires: true,
      description: 'No task of queue default runs and no delayed task is released.',
    },
  ];

  it.each(cases.map((c) => [`${c.alert} ${c.fires ? 'fires' : 'stays quiet'}`, c]))('%s', (_name, c) => {
    const file = `${c.alert}-${c.fires}.test.yaml`;
    // Severity and summary come from the rule itself; the case checks the expression, `for` and the description.
    const { labels: ruleLabels, annotations } = rule.spec.groups[0].rules.find(
      (r: { alert: string }) => r.alert === c.alert,
    );
    writeFileSync(
      join(dir, file),
      stringify({
        rule_files: ['rules.yaml'],
        evaluation_interval: '1m',
        tests: [
          {
            interval: '1m',
            input_series: c.series,
            alert_rule_test: [
              {
                eval_time: c.at,
                alertname: c.alert,
                exp_alerts: c.fires
                  ? [
                      {
                        exp_labels: { severity: ruleLabels.severity },
                        exp_annotations: { summary: annotations.summary, description: c.description },
                      },
                    ]
                  : [],
              },
            ],
          },
        ],
      }),
    );
    expect(promtoolRun(['test', 'rules', file])).toMatch(/SUCCESS/);
  });
});

describe('the metric names the dashboard and the rules use', () => {
  /** Every spillway_* name a running API and worker register, histograms with their series suffixes. */
  async function exportedNames(): Promise<Set<string>> {
    const queue = uniqueQueue();
    const api = await apiFor(queue);
    const worker = await workerFor(queue);
    try {
      // One task through the whole path, so labelled series exist too, not only their HELP lines.
      const sent = await request(api.url, 'POST', '/v1/tasks', { json: { type: 'echo', payload: { a: 1 } } });
      expect(sent.status).toBe(202);
      const done = await request(api.url, 'GET', `/v1/tasks/${sent.body.id}?wait=20`);
      expect(done.body.status).toBe('succeeded');
      const names = new Set<string>();
      for (const url of [api.url, worker.url]) {
        const text = (await request(url, 'GET', '/metrics')).body as string;
        for (const [, name, type] of text.matchAll(/^# TYPE (spillway_\w+) (\w+)$/gm)) {
          names.add(name!);
          if (type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(name + s);
        }
      }
      return names;
    } finally {
      await worker.stop();
      await api.stop();
    }
  }

  it('are all exported by the running services', async () => {
    const exported = await exportedNames();
    expect(exported).toContain('spillway_tasks_enqueued_total');
    expect(exported).toContain('spillway_consumer_lag');

    const exprs = rule.spec.groups.flatMap((g: { rules: { expr: string }[] }) => g.rules.map((r) => r.expr));
    const panels = JSON.parse(dashboard).panels as { title: string; targets: { expr: string }[] }[];
    const used = [...exprs, ...panels.flatMap((p) => p.targets.map((t) => t.expr))]
      .join('\n')
      .match(/\bspillway_\w+/g)!;
    expect(used.length).toBeGreaterThan(10);
    expect([...new Set(used)].filter((name) => !exported.has(name))).toEqual([]);
  }, 60_000);

  it("draws the panels the issue asks for, on the release's own jobs", () => {
    const panels = JSON.parse(dashboard).panels as { title: string; targets: { expr: string }[] }[];
    const exprs = panels.flatMap((p) => p.targets.map((t) => t.expr)).join('\n');
    for (const name of [
      'spillway_tasks_enqueued_total',
      'spillway_task_queue_wait_seconds_bucket',
      'spillway_task_processing_seconds_bucket',
      'spillway_consumer_lag',
      'kube_deployment_status_replicas_available',
      'spillway_tasks_processed_total',
      'spillway_dead_letters_total',
    ]) {
      expect(exprs).toContain(name);
    }
    expect(exprs).not.toMatch(/__[A-Z_]+__/);
    expect(exprs).toContain(`job="${WORKER.job}"`);
  });
});
