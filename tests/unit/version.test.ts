import { SPILLWAY_VERSION } from '../../services/shared/version';
import pkg from '../../package.json';

it('states the same version as package.json', () => {
  expect(SPILLWAY_VERSION).toBe(pkg.version);
});
