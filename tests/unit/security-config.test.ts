import { loadApiConfig } from '../../services/api/config';
import { loadWorkerConfig } from '../../services/worker/config';
import { problemsOf } from '../helpers/config';

describe('API security settings', () => {
  it('default to no rate limit, no key file and no internal callback targets', () => {
    const config = loadApiConfig({});
    expect(config.rateLimit).toEqual({ perSecond: 0, burst: 1 });
    expect(config.apiKeysFile).toBeUndefined();
    expect(config.apiKeysReloadMs).toBe(2000);
    expect(config.callbackAllow).toEqual({ hosts: [], cidrs: [] });
  });

  it('reads them, the burst defaulting to one second of the rate', () => {
    const config = loadApiConfig({
      RATE_LIMIT_PER_SECOND: '50',
      API_KEYS_FILE: '/etc/spillway/api-keys/keys',
      API_KEYS_RELOAD_MS: '500',
      CALLBACK_ALLOW_HOSTS: 'hooks.internal',
      CALLBACK_ALLOW_CIDRS: '10.0.0.0/8, fd00::/8',
    });
    expect(config).toMatchObject({
      rateLimit: { perSecond: 50, burst: 50 },
      apiKeysFile: '/etc/spillway/api-keys/keys',
      apiKeysReloadMs: 500,
      callbackAllow: { hosts: ['hooks.internal'], cidrs: ['10.0.0.0/8', 'fd00::/8'] },
    });
    expect(loadApiConfig({ RATE_LIMIT_PER_SECOND: '50', RATE_LIMIT_BURST: '500' }).rateLimit.burst).toBe(500);
  });

  it('names every bad one at once', () => {
    const problems = problemsOf(() =>
      loadApiConfig({
        RATE_LIMIT_PER_SECOND: '-1',
        RATE_LIMIT_BURST: '0',
        API_KEYS_FILE: 'keys.txt',
        API_KEYS_RELOAD_MS: '5',
        CALLBACK_ALLOW_CIDRS: '10.0.0.0/33',
      }),
    );
    for (const name of [
      'RATE_LIMIT_PER_SECOND',
      'RATE_LIMIT_BURST',
      'API_KEYS_FILE',
      'API_KEYS_RELOAD_MS',
      'CALLBACK_ALLOW_CIDRS',
    ]) {
      expect(problems.some((p) => p.startsWith(name))).toBe(true);
    }
  });
});

describe('worker security settings', () => {
  it('cap results at 1 MiB and allow no internal callback targets by default', () => {
    const config = loadWorkerConfig({});
    expect(config.maxResultBytes).toBe(1024 * 1024);
    expect(config.callbacks.allow).toEqual({ hosts: [], cidrs: [] });
  });

  it('read MAX_RESULT_BYTES and the callback allow-lists, naming bad values', () => {
    const config = loadWorkerConfig({
      MAX_RESULT_BYTES: '4096',
      CALLBACK_ALLOW_HOSTS: '*.svc.cluster.local',
      CALLBACK_ALLOW_CIDRS: '127.0.0.1/32',
    });
    expect(config.maxResultBytes).toBe(4096);
    expect(config.callbacks.allow).toEqual({ hosts: ['*.svc.cluster.local'], cidrs: ['127.0.0.1/32'] });
    const problems = problemsOf(() =>
      loadWorkerConfig({
        MAX_RESULT_BYTES: 'lots',
        CALLBACK_ALLOW_HOSTS: 'http://x/',
        CALLBACK_ALLOW_CIDRS: 'x/8',
      }),
    );
    expect(problems).toHaveLength(3);
    expect(problems.join('\n')).toMatch(
      /MAX_RESULT_BYTES[\s\S]*CALLBACK_ALLOW_HOSTS[\s\S]*CALLBACK_ALLOW_CIDRS/,
    );
  });
});
