import { createHash } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { loadApiConfig } from '../../services/api/config';
import { EnvReader } from '../../services/shared/env-reader';
import { allTopics, kafkaNames } from '../../services/shared/kafka/names';
import { readCallbackAllowList } from '../../services/shared/net/address-policy';
import { parseAccessFiles } from '../../services/shared/tenancy/access-file';
import { loadWorkerConfig } from '../../services/worker/config';
import { worstStopMs } from '../../services/worker/shutdown';
import {
  CHART,
  container,
  containerEnv,
  envOf,
  helm,
  HELM_INSTALL_TIMEOUT_MS,
  only,
  render,
  runHelm,
  valuesFile,
  type K8sObject,
} from './chart';

const CI = join(CHART, 'ci');
const ciScenarios = readdirSync(CI)
  .filter((f) => f.endsWith('-values.yaml'))
  .map((f) => join(CI, f));
/** The ci scenarios and the production profile users pass with -f: each is linted and rendered. */
const scenarios = [...ciScenarios, join(CHART, 'values-production.yaml')];

beforeAll(() => {
  helm();
}, HELM_INSTALL_TIMEOUT_MS);

describe('helm lint --strict and helm template', () => {
  it('has the five ci scenarios the issue asks for', () => {
    expect(ciScenarios.map((f) => f.split('/').pop())).toEqual([
      'auth-values.yaml',
      'default-values.yaml',
      'external-kafka-redis-values.yaml',
      'keda-off-values.yaml',
      'monitoring-off-values.yaml',
    ]);
  });

  it.each([['(defaults)'], ...scenarios.map((f) => [f])])('lints %s', (file) => {
    const args = ['lint', '--strict', CHART, ...(file.startsWith('/') ? ['-f', file] : [])];
    const result = runHelm(args);
    expect(result.stderr + result.stdout).toContain('0 chart(s) failed');
    expect(result.status).toBe(0);
  });
});

describe('values.schema.json', () => {
  const rejected = (yaml: string) => {
    const result = runHelm(['template', 'spw', CHART, '-f', valuesFile(yaml)]);
    expect(result.status).not.toBe(0);
    return result.stderr;
  };

  it('rejects a typo in a key, at any depth', () => {
    expect(rejected('api:\n  replcas: 3\n')).toMatch(/additional properties 'replcas' not allowed/);
    expect(rejected('kafka:\n  topics:\n    taskPartition: 12\n')).toMatch(/'taskPartition' not allowed/);
    expect(rejected('workers: {}\n')).toMatch(/'workers' not allowed/);
  });

  it('rejects a wrong type and an out-of-range value', () => {
    expect(rejected('worker:\n  concurrency: "16"\n')).toMatch(/got string, want integer/);
    expect(rejected('worker:\n  autoscaling:\n    offsetResetPolicy: newest\n')).toMatch(/offsetResetPolicy/);
    expect(rejected('queue: Orders_EU\n')).toMatch(/queue/);
    expect(rejected('tenants:\n  maxRunning: -1\n')).toMatch(/maxRunning/);
    expect(rejected('tenants:\n  leaseMs: 100\n')).toMatch(/leaseMs/);
  });

  it('rejects env entries that would override what the chart sets', () => {
    expect(rejected('worker:\n  env:\n    KAFKA_BROKERS: elsewhere:9092\n')).toMatch(
      /invalid propertyName 'KAFKA_BROKERS'/,
    );
  });
});

describe('replication', () => {
  it('refuses three replicas that would acknowledge a write held by one of them', () => {
    expect(() => render([], ['--set', 'kafka.nodePool.replicas=3,kafka.topics.replicas=3'])).toThrow(
      /kafka.topics.replicas is 3 but kafka.config min.insync.replicas is 1/,
    );
  });

  it('refuses more copies than brokers, and an in-sync minimum no write could meet', () => {
    expect(() => render([], ['--set', 'kafka.topics.replicas=2'])).toThrow(
      /kafka.topics.replicas \(2\) exceeds kafka.nodePool.replicas \(1\)/,
    );
    expect(() => render([], ['--set-string', 'kafka.config.min\\.insync\\.replicas=2'])).toThrow(
      /min.insync.replicas \(2\) exceeds kafka.topics.replicas \(1\)/,
    );
  });

  it('ships a production profile with three copies, two of which every write needs', () => {
    const objects = render([join(CHART, 'values-production.yaml')]);
    const kafka = only(objects, 'Kafka');
    expect(kafka.spec.kafka.config['min.insync.replicas']).toBe(2);
    expect(only(objects, 'KafkaNodePool').spec.replicas).toBe(3);
    const topics = objects.filter((o) => o.kind === 'KafkaTopic');
    expect(topics.map((t) => t.spec.replicas)).toEqual(topics.map(() => 3));
  });
});

describe('maxReplicaCount and partitions', () => {
  it('fails rendering with a clear message when workers would exceed the partitions', () => {
    expect(() => render([], ['--set', 'worker.autoscaling.maxReplicaCount=7'])).toThrow(
      /maxReplicaCount \(7\) exceeds kafka.topics.taskPartitions \(6\)/,
    );
  });

  it('allows it when idle consumers are opted into, and tells KEDA so', () => {
    const objects = render(
      [],
      ['--set', 'worker.autoscaling.maxReplicaCount=7,worker.autoscaling.allowIdleConsumers=true'],
    );
    const trigger = only(objects, 'ScaledObject').spec.triggers[0];
    expect(trigger.metadata.allowIdleConsumers).toBe('true');
  });
});

describe.each([['(defaults)', []], ...scenarios.map((f) => [f.split('/').pop()!, [f]])] as [
  string,
  string[],
][])('the rendered chart: %s', (_name, files) => {
  let objects: K8sObject[];
  beforeAll(() => {
    objects = render(files);
  });

  it('gives both processes a configuration their own loaders accept', () => {
    // The services' config loaders reject bad values with every variable named: rendering
    // something they would refuse at start-up fails here instead of in a crash loop.
    expect(() => loadApiConfig(containerEnv(only(objects, 'Deployment', '-api'), 'api'))).not.toThrow();
    expect(() =>
      loadWorkerConfig(containerEnv(only(objects, 'Deployment', '-worker'), 'worker')),
    ).not.toThrow();
  });

  it("points the ScaledObject at every lane's group and topic, and the brokers the workers use", () => {
    const worker = envOf(only(objects, 'Deployment', '-worker'), 'worker');
    const names = kafkaNames(worker.SPILLWAY_QUEUE!);
    const scaled = objects.filter((o) => o.kind === 'ScaledObject');
    if (scaled.length === 0) {
      expect(only(objects, 'Deployment', '-worker').spec.replicas).toBeGreaterThan(0);
      return;
    }
    const so = scaled[0]!;
    expect(so.spec.scaleTargetRef.name).toBe(only(objects, 'Deployment', '-worker').metadata.name);
    // One trigger per priority lane: a backlog in any lane scales the workers.
    expect(
      so.spec.triggers.map((t: { name: string; metadata: Record<string, string> }) => [
        t.name,
        t.metadata.consumerGroup,
        t.metadata.topic,
      ]),
    ).toEqual(names.lanes.map((lane) => [lane.name, lane.group, lane.topic]));
    for (const trigger of so.spec.triggers) {
      expect(trigger.type).toBe('kafka');
      expect(trigger.metadata.bootstrapServers).toBe(worker.KAFKA_BROKERS);
    }
    expect(so.spec.maxReplicaCount).toBeLessThanOrEqual(Number(worker.KAFKA_TASK_PARTITIONS));
    expect(so.spec.minReplicaCount).toBeGreaterThanOrEqual(1);
    // With nothing in a cluster to look up (a first install), the workers start at the minimum;
    // tests/k8s checks that an upgrade carries the live count over instead.
    expect(only(objects, 'Deployment', '-worker').spec.replicas).toBe(so.spec.minReplicaCount);
    // Bursts: up at once, down slowly.
    const behavior = so.spec.advanced.horizontalPodAutoscalerConfig.behavior;
    expect(behavior.scaleUp.stabilizationWindowSeconds).toBe(0);
    expect(behavior.scaleDown.stabilizationWindowSeconds).toBeGreaterThanOrEqual(120);
  });

  it('creates exactly the topics kafkaNames() names, with the partitions the workers are told', () => {
    const worker = envOf(only(objects, 'Deployment', '-worker'), 'worker');
    const topics = objects.filter((o) => o.kind === 'KafkaTopic');
    if (topics.length === 0) {
      expect(worker.KAFKA_CREATE_TOPICS).toBe('true');
      return;
    }
    const names = kafkaNames(worker.SPILLWAY_QUEUE!);
    expect(topics.map((t) => t.spec.topicName).sort()).toEqual(allTopics(names).sort());
    const tasks = topics.find((t) => t.spec.topicName === names.tasksTopic)!;
    for (const lane of names.lanes) {
      const topic = topics.find((t) => t.spec.topicName === lane.topic)!;
      expect(String(topic.spec.partitions)).toBe(worker.KAFKA_TASK_PARTITIONS);
      expect(topic.spec.config['retention.ms']).toBe(tasks.spec.config['retention.ms']);
    }
    const scaled = objects.find((o) => o.kind === 'ScaledObject');
    if (scaled) expect(scaled.spec.maxReplicaCount).toBeLessThanOrEqual(tasks.spec.partitions);
    const cluster = only(objects, 'Kafka').metadata.name;
    for (const topic of topics) expect(topic.metadata.labels!['strimzi.io/cluster']).toBe(cluster);
    for (const deployment of objects.filter((o) => o.kind === 'Deployment')) {
      expect(envOf(deployment, deployment.spec.template.spec.containers[0].name).KAFKA_CREATE_TOPICS).toBe(
        'false',
      );
    }
  });

  it('gives workers more grace than the worst case of their stop', () => {
    const deployment = only(objects, 'Deployment', '-worker');
    const drainMs = Number(envOf(deployment, 'worker').SHUTDOWN_TIMEOUT_MS);
    expect(deployment.spec.template.spec.terminationGracePeriodSeconds * 1000).toBeGreaterThan(
      worstStopMs(drainMs),
    );
  });

  it('keeps an API pod serving until its Service has stopped sending to it', () => {
    const spec = only(objects, 'Deployment', '-api').spec.template.spec;
    const [api] = spec.containers;
    // The endpoint removal and the SIGTERM race: a few seconds' pause lets the removal win.
    expect(api.lifecycle.preStop).toEqual({ sleep: { seconds: 5 } });
    expect(spec.terminationGracePeriodSeconds ?? 30).toBeGreaterThan(5);
  });

  it('hardens every container it runs', () => {
    const pods = objects
      // Jobs: the generator's hooks (generatedSecrets.mode job, the production profile).
      .filter((o) => ['Deployment', 'StatefulSet', 'Pod', 'Job'].includes(o.kind))
      .map((o) => ({
        name: `${o.kind}/${o.metadata.name}`,
        spec: o.kind === 'Pod' ? o.spec : o.spec.template.spec,
      }));
    expect(pods.length).toBeGreaterThanOrEqual(3);
    for (const { name, spec } of pods) {
      expect([name, spec.securityContext.runAsNonRoot]).toEqual([name, true]);
      expect([name, spec.automountServiceAccountToken]).toEqual([name, false]);
      for (const c of spec.containers) {
        const sc = c.securityContext;
        expect([name, sc.readOnlyRootFilesystem, sc.allowPrivilegeEscalation, sc.capabilities.drop]).toEqual([
          name,
          true,
          false,
          ['ALL'],
        ]);
        expect([name, sc.seccompProfile.type]).toEqual([name, 'RuntimeDefault']);
        expect([name, typeof c.resources.limits.memory]).toEqual([name, 'string']);
      }
    }
  });

  it('keeps every name within 63 characters and labels every object', () => {
    for (const o of objects) {
      expect([o.kind, o.metadata.name.length <= 63]).toEqual([o.kind, true]);
      expect(o.metadata.labels?.['app.kubernetes.io/instance']).toBe('spw');
    }
  });
});

describe('names and secrets', () => {
  it('derives every Kafka name from the one queue value', () => {
    const objects = render([], ['--set', 'queue=orders-eu']);
    const names = kafkaNames('orders-eu');
    const topics = objects.filter((o) => o.kind === 'KafkaTopic').map((t) => t.spec.topicName);
    expect(topics.sort()).toEqual(allTopics(names).sort());
    expect(only(objects, 'ScaledObject').spec.triggers[1].metadata.consumerGroup).toBe(names.workerGroup);
    expect(envOf(only(objects, 'Deployment', '-worker'), 'worker').SPILLWAY_QUEUE).toBe('orders-eu');
  });

  it('truncates long release names to 63 characters and keeps component names distinct', () => {
    const result = runHelm(['template', 'a'.repeat(53), CHART]);
    expect(result.status).toBe(0);
    const names = [...result.stdout.matchAll(/^ {2}name: (\S+)$/gm)].map((m) => m[1]!);
    for (const name of names) expect(name.length).toBeLessThanOrEqual(63);
    // The component suffix survives truncation, so the API and worker never collide.
    const components = new Set(names.map((n) => n.split('-').pop()));
    for (const suffix of ['api', 'worker', 'redis', 'kafka', 'keys']) expect(components).toContain(suffix);
    expect(names.filter((n) => n.endsWith('-api'))[0]).toHaveLength(63);
  });

  it('refuses an upgrade render that cannot read the Secrets it would otherwise rotate', () => {
    // helm diff, --dry-run=client and GitOps renders have no cluster: lookup finds nothing.
    const blind = runHelm(['template', 'spw', CHART, '--is-upgrade']);
    expect(blind.status).not.toBe(0);
    expect(blind.stderr).toMatch(
      /cannot read the Secret spw-spillway-(redis|api-keys) of this release during an upgrade/,
    );
    expect(blind.stderr).toMatch(/set (redis|api)\.auth\.existingSecret to a Secret you manage/);
    // With the operator's own Secrets there is nothing to generate, so nothing to refuse.
    const own = runHelm([
      'template',
      'spw',
      CHART,
      '--is-upgrade',
      '--set',
      'redis.auth.existingSecret=my-redis',
      '--set',
      'api.auth.existingSecret=my-keys',
    ]);
    expect(own.stderr).toBe('');
    expect(own.status).toBe(0);
  });

  it("generates an API key Secret that outlives the release, or uses the operator's own", () => {
    const generated = only(render(), 'Secret', '-api-keys');
    expect(generated.metadata.annotations!['helm.sh/resource-policy']).toBe('keep');
    const key = Buffer.from(generated.data['api-keys'], 'base64').toString();
    expect(key).toMatch(/^[A-Za-z0-9]{40}$/);

    const objects = render([join(CI, 'auth-values.yaml')]);
    expect(objects.filter((o) => o.kind === 'Secret' && o.metadata.name.endsWith('-api-keys'))).toHaveLength(
      0,
    );
    // Mounted as a file the API re-reads (no subPath, so Secret edits reach it): revocation without a restart.
    const api = only(objects, 'Deployment', '-api');
    const env = container(api, 'api').env;
    expect(env.find((e) => e.name === 'API_KEYS')).toBeUndefined();
    const file = env.find((e) => e.name === 'API_KEYS_FILE')!.value!;
    const mount = api.spec.template.spec.containers[0].volumeMounts.find(
      (m: { name: string }) => m.name === 'api-keys',
    );
    expect(mount).toEqual({ name: 'api-keys', mountPath: '/etc/spillway/api-keys', readOnly: true });
    const volume = api.spec.template.spec.volumes.find((v: { name: string }) => v.name === 'api-keys');
    expect(volume.secret).toMatchObject({
      secretName: 'spillway-api-keys',
      items: [{ key: 'keys', path: file.slice(mount.mountPath.length + 1) }],
    });
  });

  it('declares tenants from values in a ConfigMap the API reads beside the keys Secret (digests only)', () => {
    const digest = createHash('sha256').update('acme-key-0123456789abcdef').digest('hex');
    const values = valuesFile(
      [
        'api:',
        '  auth:',
        '    tenants:',
        '      - name: acme',
        '        rate: 1000000',
        '        burst: 2000000',
        '        maxQueued: 0',
        '        maxRunning: 20',
        '        spillRate: 2.5',
        '        keys:',
        `          - sha256: ${digest.toUpperCase()}`,
        '            scopes: [tasks:submit, tasks:read]',
        '      - name: globex',
      ].join('\n'),
    );
    const objects = render([values]);
    const api = only(objects, 'Deployment', '-api');
    const file = envOf(api, 'api').API_TENANTS_FILE!;
    const mount = api.spec.template.spec.containers[0].volumeMounts.find(
      (m: { name: string }) => m.name === 'api-tenants',
    );
    const volume = api.spec.template.spec.volumes.find((v: { name: string }) => v.name === 'api-tenants');
    const configMap = only(objects, 'ConfigMap', '-api-tenants');
    expect(volume.configMap.name).toBe(configMap.metadata.name);
    expect(file).toBe(`${mount.mountPath}/tenants`);
    // What the API will make of it, by the API's own parser.
    const access = parseAccessFiles([
      { name: 'API_TENANTS_FILE', text: configMap.data.tenants, digestsOnly: true },
    ]);
    expect(access.tenants.get('acme')).toEqual({
      name: 'acme',
      rate: { perSecond: 1_000_000, burst: 2_000_000 },
      maxQueued: 0,
      maxRunning: 20,
      spill: { perSecond: 2.5, burst: 25 },
    });
    expect(access.tenants.has('globex')).toBe(true);
    expect(access.keys).toEqual([
      { digest: Buffer.from(digest, 'hex'), tenant: 'acme', scopes: new Set(['tasks:submit', 'tasks:read']) },
    ]);

    // No tenants, or no auth: nothing of it.
    for (const none of [render(), render([values], ['--set', 'api.auth.enabled=false'])]) {
      expect(none.filter((o) => o.kind === 'ConfigMap' && o.metadata.name.endsWith('-api-tenants'))).toEqual(
        [],
      );
      expect(envOf(only(none, 'Deployment', '-api'), 'api').API_TENANTS_FILE).toBeUndefined();
    }
  });

  it('rejects a tenant in values with a key itself, a bad digest, scope or name', () => {
    const tenant = (lines: string[]) =>
      runHelm([
        'template',
        'spw',
        CHART,
        '-f',
        valuesFile(['api:', '  auth:', '    tenants:', ...lines].join('\n')),
      ]);
    const digest = 'a'.repeat(64);
    expect(
      tenant([
        '      - name: acme',
        '        keys:',
        '          - key: plain-key-0123456789abcdef',
        '            scopes: [admin]',
      ]).stderr,
    ).toMatch(/'key' not allowed/);
    expect(
      tenant([
        '      - name: acme',
        '        keys:',
        `          - sha256: ${digest.slice(1)}`,
        '            scopes: [admin]',
      ]).stderr,
    ).toMatch(/sha256/);
    expect(
      tenant([
        '      - name: acme',
        '        keys:',
        `          - sha256: ${digest}`,
        '            scopes: [tasks:write]',
      ]).stderr,
    ).toMatch(/scopes/);
    expect(tenant(['      - name: Acme_EU']).stderr).toMatch(/name/);
    expect(tenant(['      - name: acme', '        rate: -1']).stderr).toMatch(/rate/);
  });

  it('passes the callback allow-lists to the API and the workers alike, and the limits to each', () => {
    const objects = render(
      [],
      [
        '--set',
        'callbacks.allowHosts={hooks.internal,*.svc.cluster.local},callbacks.allowCidrs={10.20.0.0/16}',
        '--set',
        'api.rateLimit.perSecond=100,api.rateLimit.burst=500,worker.maxResultBytes=2097152,' +
          'worker.defaultTimeoutMs=60000,worker.maxTimeoutMs=7200000,' +
          'tenants.maxQueued=50000,tenants.maxRunning=20,tenants.leaseMs=5000,' +
          'tenants.spill.rate=300,tenants.spill.burst=900,lanes.weights.overflow=2',
      ],
    );
    const apiEnv = envOf(only(objects, 'Deployment', '-api'), 'api');
    const workerEnv = envOf(only(objects, 'Deployment', '-worker'), 'worker');
    for (const env of [apiEnv, workerEnv]) {
      expect(env.CALLBACK_ALLOW_HOSTS).toBe('hooks.internal,*.svc.cluster.local');
      expect(env.CALLBACK_ALLOW_CIDRS).toBe('10.20.0.0/16');
    }
    expect(apiEnv).toMatchObject({ RATE_LIMIT_PER_SECOND: '100', RATE_LIMIT_BURST: '500' });
    expect(loadApiConfig(containerEnv(only(objects, 'Deployment', '-api'), 'api'))).toMatchObject({
      tenantMaxQueued: 50_000,
      tenantMaxRunning: 20,
      tenantSpill: { perSecond: 300, burst: 900 },
    });
    expect(loadWorkerConfig(workerEnv).tenantLeaseMs).toBe(5000);
    expect(loadWorkerConfig(workerEnv).laneWeights).toEqual({ high: 6, normal: 3, low: 1, overflow: 2 });
    expect(workerEnv.MAX_RESULT_BYTES).toBe('2097152');
    expect(loadWorkerConfig(workerEnv).timeouts).toEqual({ defaultMs: 60_000, maxMs: 7_200_000 });
    // What the services will parse from them (the whole loaders are checked above).
    const reader = new EnvReader(workerEnv);
    expect(readCallbackAllowList(reader).hosts).toEqual(['hooks.internal', '*.svc.cluster.local']);
    expect(() => reader.finish()).not.toThrow();

    // Defaults: no limit and no allow-list (the loaders' own defaults), the result cap explicit.
    const defaults = render();
    const defaultApiEnv = envOf(only(defaults, 'Deployment', '-api'), 'api');
    for (const name of ['RATE_LIMIT_PER_SECOND', 'TENANT_MAX_QUEUED', 'TENANT_MAX_RUNNING']) {
      expect(defaultApiEnv).not.toHaveProperty(name);
    }
    expect(envOf(only(defaults, 'Deployment', '-worker'), 'worker')).not.toHaveProperty(
      'CALLBACK_ALLOW_CIDRS',
    );
  });
});
