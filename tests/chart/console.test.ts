import { loadApiConfig } from '../../services/api/config';
import {
  containerEnv,
  envOf,
  helm,
  HELM_INSTALL_TIMEOUT_MS,
  only,
  render,
  runHelm,
  valuesFile,
  CHART,
  type K8sObject,
} from './chart';

/**
 * `api.console.enabled` is the API's CONSOLE_ENABLED: one value, read by the API's own config
 * loader from the env the chart renders. The console is served by the API Deployment on its
 * existing Service and Ingress, so the switch adds or removes no object.
 */

beforeAll(() => {
  helm();
}, HELM_INSTALL_TIMEOUT_MS);

const apiOf = (objects: K8sObject[]) => only(objects, 'Deployment', '-api');
const kinds = (objects: K8sObject[]) => objects.map((o) => `${o.kind}/${o.metadata.name}`).sort();

describe('api.console.enabled', () => {
  it('is on by default, and the API reads it so', () => {
    const api = apiOf(render());
    expect(envOf(api, 'api').CONSOLE_ENABLED).toBe('true');
    expect(loadApiConfig(containerEnv(api, 'api')).webConsole.enabled).toBe(true);
  });

  it('turns the console off in the API, and nothing else in the chart', () => {
    const on = render([], ['--set', 'api.ingress.enabled=true']);
    const off = render([], ['--set', 'api.ingress.enabled=true,api.console.enabled=false']);
    expect(envOf(apiOf(off), 'api').CONSOLE_ENABLED).toBe('false');
    expect(loadApiConfig(containerEnv(apiOf(off), 'api')).webConsole.enabled).toBe(false);
    expect(kinds(off)).toEqual(kinds(on));
  });

  it('is refused by the schema when not a boolean, or when set again through api.env', () => {
    for (const yaml of [
      'api:\n  console:\n    enabled: "false"\n',
      'api:\n  console:\n    enabled: 0\n',
      'api:\n  console:\n    enabeld: false\n',
      'api:\n  env:\n    CONSOLE_ENABLED: "false"\n',
    ]) {
      const result = runHelm(['template', 'spw', CHART, '-f', valuesFile(yaml)]);
      expect(result.status).not.toBe(0);
      expect(result.stderr).toMatch(/console|CONSOLE_ENABLED|enabeld/);
    }
  });
});
