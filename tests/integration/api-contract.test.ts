import { execFileSync } from 'node:child_process';
import { createApp } from '../../services/api/app';
import { RedisDeadLetterStore } from '../../services/shared/redis/dead-letter-store';
import { request } from '../helpers/http';
import { componentChecker } from '../helpers/openapi';
import { apiFor } from '../helpers/services';
import { REDIS_URL, uniqueQueue } from '../helpers/stack';

/** Every route the Express app really serves, as "METHOD /openapi/{style}". */
function servedRoutes(): string[] {
  // A mock-free app: only its routing table is read, nothing is called.
  const unused = undefined as never;
  const app = createApp({
    config: { maxBodyBytes: 1024, maxBatchTasks: 10, apiKeys: [], allowedTypes: [] },
    names: unused,
    store: unused,
    submitter: unused,
    idempotency: unused,
    deadLetters: unused,
    batches: unused,
    pauses: unused,
    watcher: unused,
    inspector: unused,
    readiness: [],
    events: unused,
    metrics: unused,
    logger: unused,
    version: 'test',
  });
  const routes: string[] = [];
  const walk = (
    stack: { route?: { path: string; methods: Record<string, boolean> }; handle?: { stack?: unknown[] } }[],
  ) => {
    for (const layer of stack) {
      if (layer.route) {
        for (const method of Object.keys(layer.route.methods)) {
          routes.push(`${method.toUpperCase()} ${layer.route.path.replace(/:(\w+)/g, '{$1}')}`);
        }
      } else if (layer.handle?.stack) {
        walk(layer.handle.stack as typeof stack);
      }
    }
  };
  walk((app as unknown as { router: { stack: Parameters<typeof walk>[0] } }).router.stack);
  return routes.sort();
}

describe('the OpenAPI document', () => {
  const queue = uniqueQueue();
  let api: Awaited<ReturnType<typeof apiFor>>;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- a parsed JSON document
  let doc: any;

  beforeAll(async () => {
    api = await apiFor(queue);
    doc = (await request(api.url, 'GET', '/openapi.json')).body;
  });
  afterAll(() => api.stop());

  it('is a valid OpenAPI 3.1 document', () => {
    // The validator is an ES module, which jest's CommonJS runtime cannot load: run it in node.
    const script = `
      import { Validator } from '@seriousme/openapi-schema-validator';
      const input = await new Promise((resolve) => { let s = ''; process.stdin.on('data', (d) => (s += d)).on('end', () => resolve(s)); });
      const validator = new Validator();
      const result = await validator.validate(JSON.parse(input));
      console.log(JSON.stringify({ valid: result.valid, errors: result.errors ?? [], version: validator.version }));`;
    const output = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
      input: JSON.stringify(doc),
      cwd: process.cwd(),
    });
    expect(JSON.parse(output.toString())).toEqual({ valid: true, errors: [], version: '3.1' });
  });

  it('lists exactly the routes the app serves', () => {
    const documented = Object.entries(doc.paths as Record<string, Record<string, unknown>>)
      .flatMap(([path, methods]) => Object.keys(methods).map((m) => `${m.toUpperCase()} ${path}`))
      .sort();
    expect(documented).toEqual(servedRoutes());
  });

  it('describes the bodies the API really sends', async () => {
    const check = componentChecker(doc);
    const accepted = await request(api.url, 'POST', '/v1/tasks', {
      json: { type: 'echo', payload: [1], delayMs: 5000 },
    });
    check('Accepted', accepted.body);
    check('Task', (await request(api.url, 'GET', `/v1/tasks/${accepted.body.id}`)).body);
    check('Task', (await request(api.url, 'DELETE', `/v1/tasks/${accepted.body.id}`)).body);
    check(
      'BatchResult',
      (await request(api.url, 'POST', '/v1/tasks/batch', { json: { tasks: [{ type: 'echo' }, {}] } })).body,
    );
    check('Stats', (await request(api.url, 'GET', '/v1/stats')).body);

    // Dead letters as a worker adds them: a task given up on and a poison message.
    const deadLetters = new RedisDeadLetterStore({ url: REDIS_URL, queue, ttlSeconds: 600 });
    const deadAt = Date.now();
    const failure = { name: 'Error', message: 'boom' };
    await deadLetters.add({
      id: 'dead-1',
      reason: 'attempts-exhausted',
      deadAt,
      task: {
        id: 'dead-1',
        type: 'fail',
        payload: null,
        enqueuedAt: deadAt - 10,
        key: 'k',
        maxAttempts: 1,
        runAt: deadAt - 5,
      },
      error: failure,
      history: [{ attempt: 1, startedAt: deadAt - 2, finishedAt: deadAt - 1, error: failure }],
    });
    await deadLetters.add({
      id: 'poison:t:0:1',
      reason: 'poison',
      deadAt: deadAt - 1,
      raw: 'x',
      error: failure,
      history: [],
    });
    await deadLetters.close();
    const page = await request(api.url, 'GET', '/v1/dead-letters?limit=1');
    check('DeadLetterPage', page.body);
    check(
      'DeadLetterPage',
      (await request(api.url, 'GET', `/v1/dead-letters?cursor=${page.body.nextCursor}`)).body,
    );
    const replay = await request(api.url, 'POST', '/v1/dead-letters/dead-1/replay');
    expect(replay.status).toBe(202);
    check('ReplayAccepted', replay.body);
    check('DeadLetterPage', (await request(api.url, 'GET', '/v1/dead-letters')).body);
    check('Error', (await request(api.url, 'POST', '/v1/dead-letters/dead-1/replay')).body);
    check('Error', (await request(api.url, 'GET', '/v1/dead-letters?limit=0')).body);
    check('Error', (await request(api.url, 'POST', '/v1/tasks', { json: { type: 7 } })).body);
    check('Error', (await request(api.url, 'GET', '/v1/tasks/none')).body);
  });
});
