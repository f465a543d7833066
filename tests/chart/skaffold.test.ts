import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { CHART, helm, HELM_INSTALL_TIMEOUT_MS, only, render, ROOT } from './chart';

interface Release {
  name: string;
  chartPath: string;
  namespace: string;
  valuesFiles: string[];
  setValueTemplates: Record<string, string>;
}

interface Artifact {
  image: string;
  docker?: { dockerfile: string };
  custom?: { buildCommand: string; dependencies: { paths: string[] } };
}
interface Profile {
  name: string;
  build?: { artifacts?: Artifact[] };
  deploy?: { helm?: { releases: Release[] } };
}

const config = parse(readFileSync(join(ROOT, 'skaffold.yaml'), 'utf8'));
/** Each release beside the artifacts it deploys (its profile's, else the top-level ones). */
const releases: (Release & { artifacts: Artifact[] })[] = [
  ...config.deploy.helm.releases.map((r: Release) => ({ ...r, artifacts: config.build.artifacts })),
  ...(config.profiles as Profile[]).flatMap((p) =>
    (p.deploy?.helm?.releases ?? []).map((r) => ({
      ...r,
      artifacts: p.build?.artifacts ?? config.build.artifacts,
    })),
  ),
];
const values = parse(readFileSync(join(CHART, 'values.yaml'), 'utf8'));

beforeAll(() => {
  helm();
}, HELM_INSTALL_TIMEOUT_MS);

describe('skaffold.yaml', () => {
  it('builds both images from Dockerfiles that exist, in every profile', () => {
    const artifacts = config.build.artifacts as Artifact[];
    expect(artifacts.map((a) => a.image).sort()).toEqual(['spillway-api', 'spillway-worker']);
    for (const a of artifacts) expect(existsSync(join(ROOT, a.docker!.dockerfile))).toBe(true);
    // The local cluster's profile builds with podman through a script, from the same Dockerfiles.
    const local = (config.profiles as Profile[]).find((p) => p.name === 'local')!;
    const allowed = readFileSync(join(ROOT, '.dockerignore'), 'utf8')
      .split('\n')
      .filter((line) => line.startsWith('!'))
      .map((line) => line.slice(1).replace(/\/$/, ''));
    for (const a of local.build!.artifacts!) {
      const [command, script, dockerfile] = a.custom!.buildCommand.split(' ');
      expect([command, existsSync(join(ROOT, script!)), existsSync(join(ROOT, dockerfile!))]).toEqual([
        'bash',
        true,
        true,
      ]);
      // A rebuild follows every file the build context holds, and the Dockerfile itself.
      expect(a.custom!.dependencies.paths.sort()).toEqual([dockerfile!, ...allowed].sort());
    }
  });

  it('deploys the chart with values files that exist and value paths the chart has', () => {
    expect(releases.length).toBeGreaterThanOrEqual(2);
    for (const release of releases) {
      expect(join(ROOT, release.chartPath)).toBe(CHART);
      for (const file of release.valuesFiles)
        expect([file, existsSync(join(ROOT, file))]).toEqual([file, true]);
      // Every templated value is a real key: a typo would be rejected by the schema only at deploy time.
      for (const path of Object.keys(release.setValueTemplates)) {
        const found = path
          .split('.')
          .reduce((node, key) => (node === undefined ? undefined : node[key]), values);
        expect([path, found !== undefined]).toEqual([path, true]);
      }
      // skaffold names its template variables after the image, with "_" for what is not a letter or digit.
      expect(release.artifacts).toHaveLength(2);
      for (const { image } of release.artifacts) {
        const key = image.replace(/[^A-Za-z0-9]/g, '_');
        expect(Object.values(release.setValueTemplates).join(' ')).toContain(`IMAGE_TAG_${key}`);
      }
    }
  });

  it('port-forwards the API Service the chart creates', () => {
    for (const release of releases) {
      const files = release.valuesFiles.map((f) => join(ROOT, f));
      const objects = render(files);
      // render() names the release "spw": rename to skaffold's release to compare Service names.
      const service = only(objects, 'Service', '-api').metadata.name.replace(/^spw-spillway/, release.name);
      const forward = config.portForward[0];
      expect(forward.resourceName).toBe(service);
      expect(forward.namespace).toBe(release.namespace);
      expect(forward.port).toBe(only(objects, 'Service', '-api').spec.ports[0].port);
    }
  });

  it('uses the kind cluster k8s/setup-kind.sh creates, with its node port mapping', () => {
    const kind = parseAllDocuments(readFileSync(join(ROOT, 'k8s', 'kind-config.yaml'), 'utf8'))[0]!.toJS();
    const kindValues = parse(readFileSync(join(ROOT, 'k8s', 'kind-values.yaml'), 'utf8'));
    expect(kind.nodes[0].extraPortMappings[0].containerPort).toBe(kindValues.api.service.nodePort);
    const profile = config.profiles.find((p: { name: string }) => p.name === 'kind');
    expect(profile.deploy.kubeContext).toBe('kind-spillway');
    expect(readFileSync(join(ROOT, 'k8s', 'setup-kind.sh'), 'utf8')).toContain('KIND_CLUSTER:-spillway');
  });
});
