import { join } from 'node:path';
import { loadApiConfig } from '../../services/api/config';
import { IN_CLUSTER_TOKEN } from '../../services/shared/kubernetes/kube-source';
import {
  AUTOSCALER_PAUSE_PERMISSION,
  FLEET_PERMISSIONS,
  kedaHpaName,
  type FleetObject,
} from '../../services/shared/kubernetes/permissions';
import {
  CHART,
  container,
  envOf,
  helm,
  HELM_INSTALL_TIMEOUT_MS,
  only,
  render,
  runHelm,
  valuesFile,
  type K8sObject,
} from './chart';

/**
 * The API's fleet view reads three objects, and the queue's pause patches one; its Role must
 * grant exactly those calls. The rules are derived from FLEET_PERMISSIONS and
 * AUTOSCALER_PAUSE_PERMISSION, the constants fleet-reader.ts and autoscaler-pause.ts call from.
 */
const KEDA_OFF = join(CHART, 'ci', 'keda-off-values.yaml');

interface Rule {
  apiGroups: string[];
  resources: string[];
  resourceNames?: string[];
  verbs: string[];
}

beforeAll(() => {
  helm();
}, HELM_INSTALL_TIMEOUT_MS);

/** The rules the reader (and, unless `pauseAutoscaling` is off, the pause) needs for the objects the chart rendered. */
function expectedRules(objects: K8sObject[], pauseAutoscaling = true): Rule[] {
  const worker = only(objects, 'Deployment', '-worker').metadata.name;
  const scaled = objects.find((o) => o.kind === 'ScaledObject');
  const names: Partial<Record<FleetObject, string>> = {
    workers: worker,
    ...(scaled && { scaledObject: scaled.metadata.name, hpa: kedaHpaName(scaled.metadata.name) }),
  };
  const reads = (Object.keys(FLEET_PERMISSIONS) as FleetObject[])
    .filter((object) => names[object] !== undefined)
    .map((object) => {
      const { apiGroup, resource, verbs } = FLEET_PERMISSIONS[object];
      return {
        apiGroups: [apiGroup],
        resources: [resource],
        resourceNames: [names[object]!],
        verbs: [...verbs],
      };
    });
  const { apiGroup, resource, verbs } = AUTOSCALER_PAUSE_PERMISSION;
  const pause = {
    apiGroups: [apiGroup],
    resources: [resource],
    resourceNames: [names.scaledObject!],
    verbs: [...verbs],
  };
  return scaled && pauseAutoscaling ? [...reads, pause] : reads;
}

const ruleOrder = (r: Rule) => `${r.resources[0]} ${r.verbs.join()}`;
const sorted = (rules: Rule[]) => [...rules].sort((a, b) => ruleOrder(a).localeCompare(ruleOrder(b)));

describe.each([
  ['defaults, KEDA on', []],
  ['KEDA off', [KEDA_OFF]],
])('the fleet Role (%s)', (_name, files) => {
  let objects: K8sObject[];
  beforeAll(() => {
    objects = render(files);
  });

  it("grants exactly the fleet reader's gets and the pause's patch, on the objects by name", () => {
    const role = only(objects, 'Role', '-fleet');
    expect(sorted(role.rules)).toEqual(sorted(expectedRules(objects)));
    for (const rule of role.rules as Rule[]) {
      expect(rule.verbs).toHaveLength(1);
      expect(rule.resourceNames).toHaveLength(1);
    }
    // The one write: patch, on the workers' ScaledObject alone, and only when KEDA is on.
    const writes = (role.rules as Rule[]).filter((r) => r.verbs[0] !== 'get');
    expect(writes).toEqual(
      files.length === 0
        ? [
            {
              apiGroups: ['keda.sh'],
              resources: ['scaledobjects'],
              resourceNames: [expect.stringMatching(/-worker$/)],
              verbs: ['patch'],
            },
          ]
        : [],
    );
    expect(role.rules).toHaveLength(files.length === 0 ? 4 : 1);
  });

  it('names the HPA KEDA really creates: the ScaledObject does not rename it', () => {
    const scaled = objects.find((o) => o.kind === 'ScaledObject');
    if (scaled) expect(scaled.spec.advanced?.horizontalPodAutoscalerConfig?.name).toBeUndefined();
  });

  it("binds it to the API's ServiceAccount, in the release namespace", () => {
    const role = only(objects, 'Role', '-fleet');
    const binding = only(objects, 'RoleBinding', '-fleet');
    const api = only(objects, 'Deployment', '-api');
    expect(binding.roleRef).toEqual({
      apiGroup: 'rbac.authorization.k8s.io',
      kind: 'Role',
      name: role.metadata.name,
    });
    expect(binding.subjects).toEqual([
      { kind: 'ServiceAccount', name: api.spec.template.spec.serviceAccountName, namespace: 'tasks' },
    ]);
  });

  it('tells the API which objects to read, in a configuration its loader accepts', () => {
    const api = only(objects, 'Deployment', '-api');
    const env = { ...envOf(api, 'api'), KUBERNETES_SERVICE_HOST: '10.96.0.1' };
    const rules = expectedRules(objects);
    const named = (resource: string) => rules.find((r) => r.resources[0] === resource)?.resourceNames?.[0];
    expect(loadApiConfig(env).fleet).toEqual({
      targets: {
        namespace: 'tasks',
        workerDeployment: named('deployments'),
        ...(named('scaledobjects') && { scaledObject: named('scaledobjects') }),
      },
      source: { kubeconfig: [] },
      ...(named('scaledobjects') && { pauseAutoscaling: true }),
    });
  });

  it('mounts a service account token into the API container only, where the in-cluster config reads it', () => {
    const api = only(objects, 'Deployment', '-api');
    const pod = api.spec.template.spec;
    expect(pod.automountServiceAccountToken).toBe(false);
    const mount = container(api, 'api') as unknown as {
      volumeMounts: { name: string; mountPath: string; readOnly?: boolean }[];
    };
    const tokenMount = mount.volumeMounts.find((m) => `${m.mountPath}/token` === IN_CLUSTER_TOKEN);
    expect(tokenMount).toMatchObject({ readOnly: true });
    const volume = pod.volumes.find((v: { name: string }) => v.name === tokenMount!.name);
    const sources = volume.projected.sources;
    expect(sources.map((s: object) => Object.keys(s)[0])).toEqual([
      'serviceAccountToken',
      'configMap',
      'downwardAPI',
    ]);
    expect(sources[0].serviceAccountToken.path).toBe('token');

    const worker = only(objects, 'Deployment', '-worker').spec.template.spec;
    expect(JSON.stringify(worker)).not.toContain('serviceAccountToken');
  });
});

describe('fleet.pauseAutoscaling=false', () => {
  it('grants no patch and does not ask the API to pause KEDA', () => {
    const objects = render([], ['--set', 'fleet.pauseAutoscaling=false']);
    const role = only(objects, 'Role', '-fleet');
    expect(sorted(role.rules)).toEqual(sorted(expectedRules(objects, false)));
    expect((role.rules as Rule[]).flatMap((r) => r.verbs)).toEqual(['get', 'get', 'get']);
    const api = only(objects, 'Deployment', '-api');
    expect(envOf(api, 'api').FLEET_PAUSE_AUTOSCALING).toBeUndefined();
    const env = { ...envOf(api, 'api'), KUBERNETES_SERVICE_HOST: '10.96.0.1' };
    expect(loadApiConfig(env).fleet?.pauseAutoscaling).toBeUndefined();
  });
});

describe('fleet.enabled=false', () => {
  it('renders no Role, no token and no FLEET_ variables', () => {
    const objects = render([], ['--set', 'fleet.enabled=false']);
    expect(objects.filter((o) => o.kind === 'Role' || o.kind === 'RoleBinding')).toEqual([]);
    const api = only(objects, 'Deployment', '-api');
    expect(Object.keys(envOf(api, 'api')).filter((n) => n.startsWith('FLEET_'))).toEqual([]);
    expect(JSON.stringify(api)).not.toContain('serviceAccountToken');
    expect(loadApiConfig(envOf(api, 'api')).fleet).toBeNull();
  });

  it('the schema rejects a typo under fleet and FLEET_ variables in api.env', () => {
    const rejected = (yaml: string) => {
      const result = runHelm(['template', 'spw', CHART, '-f', valuesFile(yaml)]);
      expect(result.status).not.toBe(0);
      return result.stderr;
    };
    expect(rejected('fleet:\n  enable: true\n')).toMatch(/additional properties 'enable' not allowed/);
    expect(rejected('api:\n  env:\n    FLEET_NAMESPACE: other\n')).toMatch(
      /invalid propertyName 'FLEET_NAMESPACE'/,
    );
  });
});
