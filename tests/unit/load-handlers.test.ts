import { loadWorkerConfig } from '../../services/worker/config';
import { loadHandlers } from '../../services/worker/load-handlers';
import { OPERATIONAL_TASK_TYPES } from '../../services/shared/task-types';

describe('the handlers a worker process loads', () => {
  it('runs spillway.ping always, and the demo types only when DEMO_HANDLERS=true', async () => {
    const production = await loadHandlers(undefined, loadWorkerConfig({}).demoHandlers);
    expect(production.get('sleep')).toBeUndefined();
    expect(production.get('echo')).toBeUndefined();
    for (const type of OPERATIONAL_TASK_TYPES) expect(production.get(type)).toBeDefined();

    const demo = await loadHandlers(undefined, loadWorkerConfig({ DEMO_HANDLERS: 'true' }).demoHandlers);
    for (const type of ['echo', 'sleep', 'fail', 'flaky', 'cpu', 'spillway.ping']) {
      expect([type, demo.get(type) !== undefined]).toEqual([type, true]);
    }
  });

  it('answers a ping with a pong', async () => {
    const ping = (await loadHandlers(undefined, false)).get('spillway.ping')!;
    expect(await ping(null, {} as never)).toEqual({ pong: true });
  });

  it('refuses a DEMO_HANDLERS that is not true or false', () => {
    expect(() => loadWorkerConfig({ DEMO_HANDLERS: 'yes' })).toThrow(/DEMO_HANDLERS="yes" is not valid/);
  });
});
