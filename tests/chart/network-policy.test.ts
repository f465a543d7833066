import { join } from 'node:path';
import { BLOCKED } from '../../services/shared/net/address-policy';
import { CHART, helm, HELM_INSTALL_TIMEOUT_MS, only, render, valuesFile, type K8sObject } from './chart';

/**
 * The NetworkPolicies as rendered: who may reach each component, and where the API and workers
 * may connect. (The local cluster applies them with strict validation in tests/k8s/chart-matrix;
 * its bridge network does not enforce them, so what they admit is checked here, rule by rule.)
 */

interface Peer {
  podSelector?: { matchLabels?: Record<string, string> };
  namespaceSelector?: { matchLabels?: Record<string, string>; matchExpressions?: unknown[] };
  ipBlock?: { cidr: string; except?: string[] };
}
interface Rule {
  to?: Peer[];
  from?: Peer[];
  ports?: { port: number | string; protocol?: string }[];
}

const policy = (objects: K8sObject[], name: string) => only(objects, 'NetworkPolicy', name);
const egress = (objects: K8sObject[], component: 'api' | 'worker') =>
  policy(objects, `-${component}-egress`).spec.egress as Rule[];
const byName = (names: string[]) => ({
  matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'In', values: names }],
});
/** Every port a rule list admits on any address (rules without `to`). */
const portsAnywhere = (rules: Rule[]) =>
  rules.filter((r) => r.to === undefined).flatMap((r) => (r.ports ?? []).map((p) => p.port));

beforeAll(() => {
  helm();
}, HELM_INSTALL_TIMEOUT_MS);

describe('ingress', () => {
  it('lets only the named monitoring namespaces scrape workers, and none when the list is empty', () => {
    const worker = policy(render(), '-worker');
    expect(worker.spec.ingress).toEqual([
      { from: [{ namespaceSelector: byName(['monitoring']) }], ports: [{ port: 'http' }] },
    ]);
    const closed = policy(render([valuesFile('networkPolicy:\n  metricsNamespaces: []\n')]), '-worker');
    expect(closed.spec.ingress).toEqual([]);
    expect(closed.spec.policyTypes).toEqual(['Ingress']);
  });

  it("admits KEDA's operator to Kafka only from the named namespaces, not any pod so labelled", () => {
    const kafka = only(render(), 'Kafka');
    const [listener] = kafka.spec.kafka.listeners as { networkPolicyPeers: Peer[] }[];
    expect(listener!.networkPolicyPeers).toEqual([
      {
        podSelector: {
          matchLabels: { 'app.kubernetes.io/name': 'spillway', 'app.kubernetes.io/instance': 'spw' },
        },
      },
      {
        namespaceSelector: byName(['keda']),
        podSelector: { matchLabels: { 'app.kubernetes.io/name': 'keda-operator' } },
      },
    ]);
    const custom = only(render([valuesFile('networkPolicy:\n  kedaNamespaces: [autoscaling]\n')]), 'Kafka');
    expect(JSON.stringify(custom.spec.kafka.listeners)).toContain('"values":["autoscaling"]');
  });

  it('refuses a namespace that is not a namespace name', () => {
    expect(() => render([valuesFile('networkPolicy:\n  metricsNamespaces: ["Monitoring NS"]\n')])).toThrow(
      /metricsNamespaces/,
    );
  });
});

describe('egress', () => {
  it('lets the API reach DNS, its Kafka, its Redis and the Kubernetes API, and nothing else', () => {
    const rules = egress(render(), 'api');
    expect(portsAnywhere(rules).sort()).toEqual([443, 53, 53, 6443].sort());
    const kafka = rules.find((r) => r.to?.[0]?.podSelector?.matchLabels?.['strimzi.io/cluster']);
    expect(kafka).toEqual({
      to: [
        {
          podSelector: {
            matchLabels: { 'strimzi.io/cluster': 'spw-spillway-kafka', 'strimzi.io/kind': 'Kafka' },
          },
        },
      ],
      ports: [{ port: 9092 }],
    });
    const redis = rules.find(
      (r) => r.to?.[0]?.podSelector?.matchLabels?.['app.kubernetes.io/component'] === 'redis',
    );
    expect(redis?.ports).toEqual([{ port: 6379 }]);
    expect(rules).toHaveLength(4);
  });

  it('leaves out the Kubernetes API when the fleet view is off, and uses 9093 with Kafka auth', () => {
    const rules = egress(
      render([valuesFile('fleet:\n  enabled: false\nkafka:\n  auth:\n    enabled: true\n')]),
      'api',
    );
    expect(portsAnywhere(rules)).toEqual([53, 53]);
    expect(JSON.stringify(rules)).toContain('{"port":9093}');
  });

  it('sends callbacks to public addresses only: the ranges the workers refuse are excepted', () => {
    const rules = egress(render(), 'worker');
    const callbacks = rules.find((r) => r.to?.some((p) => p.ipBlock));
    const v4 = BLOCKED.map(([cidr]) => cidr).filter((c) => !c.includes(':'));
    const v6 = BLOCKED.map(([cidr]) => cidr).filter((c) => c.includes(':'));
    expect(callbacks).toEqual({
      to: [{ ipBlock: { cidr: '0.0.0.0/0', except: v4 } }, { ipBlock: { cidr: '::/0', except: v6 } }],
    });
    // No Kubernetes API for workers.
    expect(portsAnywhere(rules)).toEqual([53, 53]);
  });

  it('adds callbacks.allowCidrs, and with publicCallbacks off allows only those', () => {
    const values = valuesFile(
      'callbacks:\n  allowCidrs: [10.20.0.0/16]\nnetworkPolicy:\n  egress:\n    publicCallbacks: false\n',
    );
    const callbacks = egress(render([values]), 'worker').find((r) => r.to?.some((p) => p.ipBlock));
    expect(callbacks).toEqual({ to: [{ ipBlock: { cidr: '10.20.0.0/16' } }] });
  });

  it("admits an external Kafka's and Redis' ports, read from their addresses", () => {
    const objects = render([join(CHART, 'ci', 'external-kafka-redis-values.yaml')]);
    for (const component of ['api', 'worker'] as const) {
      const rules = egress(objects, component);
      expect(portsAnywhere(rules)).toEqual(expect.arrayContaining([9092, 9092, 6380]));
      expect(JSON.stringify(rules)).not.toContain('strimzi.io/cluster');
    }
  });

  it('gives both the extra peers of networkPolicy.egress.extraTo, and renders none when egress is off', () => {
    const extra = valuesFile(
      'networkPolicy:\n  egress:\n    extraTo:\n      - namespaceSelector:\n          matchLabels: { team: billing }\n',
    );
    const objects = render([extra]);
    for (const component of ['api', 'worker'] as const) {
      expect(egress(objects, component)).toContainEqual({
        to: [{ namespaceSelector: { matchLabels: { team: 'billing' } } }],
      });
    }
    const off = render([valuesFile('networkPolicy:\n  egress:\n    enabled: false\n')]);
    expect(off.filter((o) => o.kind === 'NetworkPolicy').map((o) => o.metadata.name)).toEqual([
      'spw-spillway-api',
      'spw-spillway-worker',
      'spw-spillway-redis',
    ]);
  });
});
