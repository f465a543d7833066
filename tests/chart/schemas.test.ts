import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ScaledObject, TriggerAuthentication } from '@kubernetes-models/keda/keda.sh/v1alpha1';
import {
  PodMonitor,
  PrometheusRule,
  ServiceMonitor,
} from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
import { Deployment, StatefulSet } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { Ingress, NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { Role, RoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ConfigMap, Pod, Secret, Service, ServiceAccount } from 'kubernetes-models/v1';
import { CHART, helm, HELM_INSTALL_TIMEOUT_MS, render, ROOT, type K8sObject } from './chart';

/** Kubernetes and CRD schemas (kubernetes-models, generated from the OpenAPI specs and the CRDs). */
const MODELS: Record<string, { new (data: never): { validate(): void } }> = {
  'apps/v1/Deployment': Deployment,
  'apps/v1/StatefulSet': StatefulSet,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'networking.k8s.io/v1/Ingress': Ingress,
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'rbac.authorization.k8s.io/v1/Role': Role,
  'rbac.authorization.k8s.io/v1/RoleBinding': RoleBinding,
  'v1/ConfigMap': ConfigMap,
  'v1/Pod': Pod,
  'v1/Secret': Secret,
  'v1/Service': Service,
  'v1/ServiceAccount': ServiceAccount,
  'keda.sh/v1alpha1/ScaledObject': ScaledObject,
  'keda.sh/v1alpha1/TriggerAuthentication': TriggerAuthentication,
  'monitoring.coreos.com/v1/ServiceMonitor': ServiceMonitor,
  'monitoring.coreos.com/v1/PodMonitor': PodMonitor,
  'monitoring.coreos.com/v1/PrometheusRule': PrometheusRule,
};

const CI = join(CHART, 'ci');
const variants: [string, string[], string[]][] = [
  ['defaults', [], []],
  ...readdirSync(CI).map((f): [string, string[], string[]] => [f, [join(CI, f)], []]),
  [
    'PodMonitor, API HPA and Ingress',
    [],
    ['--set', 'monitoring.kind=PodMonitor,api.autoscaling.enabled=true,api.ingress.enabled=true'],
  ],
  ['ephemeral Kafka storage', [], ['--set', 'kafka.nodePool.storage.type=ephemeral']],
];

beforeAll(() => {
  helm();
}, HELM_INSTALL_TIMEOUT_MS);

describe.each(variants)('rendered objects (%s)', (_name, files, extra) => {
  let objects: K8sObject[];
  beforeAll(() => {
    objects = render(files, extra);
  });

  it('validate against the Kubernetes and CRD schemas', () => {
    for (const o of objects.filter((x) => !x.apiVersion.startsWith('kafka.strimzi.io/'))) {
      const model = MODELS[`${o.apiVersion}/${o.kind}`];
      expect([o.apiVersion, o.kind, model !== undefined]).toEqual([o.apiVersion, o.kind, true]);
      expect(() => new model!(o as never).validate()).not.toThrow();
    }
  });

  it('write Strimzi resources as the v1 API of Strimzi 0.49+ expects', () => {
    for (const o of objects.filter((x) => x.apiVersion.startsWith('kafka.strimzi.io/'))) checkStrimzi(o);
  });
});

/** The schema models reject wrong types and enum values, not unknown keys: show that they do catch mistakes. */
it('the schema models catch a wrong value', () => {
  const [deployment] = render().filter((o) => o.kind === 'Deployment');
  const broken = structuredClone(deployment!);
  broken.spec.template.spec.containers[0].imagePullPolicy = 'Sometimes';
  expect(() => new Deployment(broken as never).validate()).toThrow(/imagePullPolicy/);
});

// Strimzi's v1 API (0.49+; the only one in 1.0), field by field for what the chart writes.
// No published schema package runs on Node 20 (@kubernetes-models/strimzi-kafka-operator needs 22).
const KAFKA_VERSIONS_0_49 = ['4.0.0', '4.0.1', '4.1.0', '4.1.1'];
const keysIn = (what: string, value: object, allowed: string[]) =>
  expect([what, Object.keys(value).filter((k) => !allowed.includes(k))]).toEqual([what, []]);

function checkStrimzi(o: K8sObject): void {
  expect(o.apiVersion).toBe('kafka.strimzi.io/v1');
  const spec = o.spec;
  const where = `${o.kind}/${o.metadata.name}`;
  switch (o.kind) {
    case 'Kafka': {
      keysIn(where, spec, [
        'kafka',
        'entityOperator',
        'kafkaExporter',
        'cruiseControl',
        'clusterCa',
        'clientsCa',
      ]);
      // v1 removed these: node pools hold replicas and storage; ZooKeeper is gone.
      keysIn(`${where} .spec.kafka`, spec.kafka, [
        'version',
        'metadataVersion',
        'listeners',
        'config',
        'authorization',
        'resources',
        'metricsConfig',
        'logging',
        'template',
        'rack',
      ]);
      expect(KAFKA_VERSIONS_0_49).toContain(spec.kafka.version);
      expect(spec.kafka.metadataVersion).toBe(`${spec.kafka.version.split('.').slice(0, 2).join('.')}-IV1`);
      for (const l of spec.kafka.listeners) {
        keysIn(`${where} listener`, l, [
          'name',
          'port',
          'type',
          'tls',
          'authentication',
          'networkPolicyPeers',
          'configuration',
        ]);
        expect(l.name).toMatch(/^[a-z0-9]{1,11}$/);
        // Strimzi reserves 9090, 9091, 9404 (metrics) and 9999 (JMX).
        expect(l.port).toBeGreaterThanOrEqual(9092);
        expect([9404, 9999]).not.toContain(l.port);
        expect(['internal', 'cluster-ip', 'route', 'loadbalancer', 'nodeport', 'ingress']).toContain(l.type);
        expect(typeof l.tls).toBe('boolean');
        if (l.authentication) expect(['tls', 'scram-sha-512', 'custom']).toContain(l.authentication.type);
      }
      if (spec.kafka.authorization) expect(spec.kafka.authorization.type).toBe('simple');
      keysIn(`${where} .spec.entityOperator`, spec.entityOperator, [
        'topicOperator',
        'userOperator',
        'template',
        'tlsSidecar',
      ]);
      break;
    }
    case 'KafkaNodePool':
      keysIn(where, spec, ['replicas', 'roles', 'storage', 'resources', 'jvmOptions', 'template']);
      expect(o.metadata.labels!['strimzi.io/cluster']).toBeTruthy();
      expect(Number.isInteger(spec.replicas)).toBe(true);
      // A KRaft pool that is its own quorum needs both roles.
      expect([...spec.roles].sort()).toEqual(['broker', 'controller']);
      if (spec.storage.type === 'jbod') {
        for (const v of spec.storage.volumes) {
          keysIn(`${where} volume`, v, ['id', 'type', 'size', 'class', 'deleteClaim', 'kraftMetadata']);
          expect(v.type).toBe('persistent-claim');
          expect(v.size).toMatch(/^[0-9]+(Mi|Gi|Ti)$/);
        }
        expect(
          spec.storage.volumes.filter((v: { kraftMetadata?: string }) => v.kraftMetadata === 'shared'),
        ).toHaveLength(1);
      } else {
        expect(spec.storage.type).toBe('ephemeral');
      }
      break;
    case 'KafkaTopic':
      keysIn(where, spec, ['topicName', 'partitions', 'replicas', 'config']);
      expect(o.metadata.name).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
      expect(Number.isInteger(spec.partitions) && spec.partitions > 0).toBe(true);
      for (const value of Object.values(spec.config))
        expect(['string', 'number', 'boolean']).toContain(typeof value);
      break;
    case 'KafkaUser':
      keysIn(where, spec, ['authentication', 'authorization', 'quotas', 'template']);
      expect(spec.authentication.type).toBe('scram-sha-512');
      expect(spec.authorization.type).toBe('simple');
      for (const acl of spec.authorization.acls) {
        // v1 has only `operations`; the singular `operation` was removed.
        keysIn(`${where} acl`, acl, ['resource', 'operations', 'host', 'type']);
        expect(['topic', 'group', 'cluster', 'transactionalId']).toContain(acl.resource.type);
        for (const op of acl.operations) {
          expect([
            'Read',
            'Write',
            'Create',
            'Delete',
            'Alter',
            'Describe',
            'ClusterAction',
            'AlterConfigs',
            'DescribeConfigs',
            'IdempotentWrite',
            'All',
          ]).toContain(op);
        }
      }
      break;
    default:
      throw new Error(`unexpected Strimzi kind ${o.kind}`);
  }
}

it('runs the Kafka version the local stack and the tests run', () => {
  const pom = readFileSync(join(ROOT, 'scripts', 'kafka', 'pom.xml'), 'utf8');
  const tested = /<kafka\.version>([^<]+)<\/kafka\.version>/.exec(pom)![1];
  const kafka = render().find((o) => o.kind === 'Kafka')!;
  expect(kafka.spec.kafka.version).toBe(tested);
});
