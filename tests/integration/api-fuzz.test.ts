/**
 * Property-based fuzzing of the real API (real Kafka and Redis): random bodies (JSON, near-valid
 * tasks, raw bytes), headers, content types, sizes, ids and query strings on every route. No
 * answer is a 5xx, every 4xx has the documented error shape and a documented code, and the
 * process keeps serving. A failure prints fast-check's seed and the shrunk request.
 */
import Ajv2020 from 'ajv/dist/2020';
import fc from 'fast-check';
import http from 'node:http';
import { MAX_JSON_DEPTH } from '../../services/api/json-depth';
import { errorSchema } from '../../services/api/schemas';
import { apiFor } from '../helpers/services';
import { uniqueQueue } from '../helpers/stack';

const KEY = 'fuzz-key-0123456789abcdef';
const MAX_BODY_BYTES = 4096;

/** Every code docs/api.md lists for a 4xx. */
const DOCUMENTED_CODES = new Set([
  'bad_request',
  'invalid_json',
  'unauthorized',
  'task_not_found',
  'route_not_found',
  'method_not_allowed',
  'dead_letter_not_found',
  'idempotency_key_reused',
  'idempotency_request_in_progress',
  'task_finished',
  'already_replayed',
  'not_replayable',
  'replay_in_progress',
  'payload_too_large',
  'unsupported_media_type',
  'validation_failed',
  'rate_limited',
  // GET /v1/fleet when the fleet view is off (no FLEET_* settings, as here).
  'fleet_unavailable',
  'schedule_not_found',
  'batch_not_found',
  'batch_sealed',
  'batch_cancelled',
]);
const isErrorShape = new Ajv2020({ strict: false }).compile(errorSchema);

interface FuzzRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: Buffer;
}

interface FuzzReply {
  status: number;
  contentType: string;
  text: string;
}

// One connection pool for the whole run: a new connection per request would dominate the time.
const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });

function send(base: string, req: FuzzRequest): Promise<FuzzReply> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const outgoing = http.request(
      {
        host: url.hostname,
        port: url.port,
        method: req.method,
        path: req.path,
        agent,
        headers: {
          ...req.headers,
          ...(req.body !== undefined && { 'content-length': String(req.body.length) }),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            contentType: String(res.headers['content-type'] ?? ''),
            text: Buffer.concat(chunks).toString('utf8'),
          }),
        );
        res.on('error', reject);
      },
    );
    outgoing.on('error', reject);
    outgoing.end(req.body);
  });
}

/** The property every answer must have; throws with the request and the answer otherwise. */
function check(req: FuzzRequest, reply: FuzzReply): void {
  const fail = (why: string) => {
    const shown = { ...req, body: req.body && req.body.subarray(0, 200).toString('utf8') };
    throw new Error(
      `${why}\nrequest: ${JSON.stringify(shown)}\nanswer: ${reply.status} ${reply.text.slice(0, 500)}`,
    );
  };
  if (reply.status >= 500) fail(`a ${reply.status}`);
  if (reply.status < 400) return;
  if (!reply.contentType.startsWith('application/json')) fail('a 4xx that is not JSON');
  let body: unknown;
  try {
    body = JSON.parse(reply.text);
  } catch {
    return fail('a 4xx body that does not parse');
  }
  if (!isErrorShape(body)) fail(`a 4xx not in the error shape: ${JSON.stringify(isErrorShape.errors)}`);
  const { code } = (body as { error: { code: string } }).error;
  if (!DOCUMENTED_CODES.has(code)) fail(`an undocumented error code "${code}"`);
}

// --- Arbitraries --------------------------------------------------------------------------

const text = (maxLength = 40) => fc.string({ maxLength });
const unicode = (maxLength = 40) => fc.string({ unit: 'grapheme', maxLength });

/** Ids: well-formed, random text (encoded), and raw fragments with broken percent-encoding. */
const idArb = (known: string[]) =>
  fc.oneof(
    fc.uuid(),
    unicode().map(encodeURIComponent),
    fc
      .array(fc.constantFrom('%', '%E0', '%A4', '%ZZ', '%00', '%2F', '..', 'a', '-', '.', '~', '%25', ';'), {
        maxLength: 8,
      })
      .map((parts) => parts.join('') || 'x'),
    fc.constantFrom(...known),
  );

const queryArb = fc
  .array(
    fc.tuple(
      fc.oneof(fc.constantFrom('wait', 'limit', 'cursor', 'api_key', 'token', 'key'), text(10)),
      fc.oneof(
        fc.constantFrom('0', '0.05', '-1', '1e3', 'abc', '', '201', '50', 'WzE3XQ', '%ZZ'),
        unicode(20).map(encodeURIComponent),
      ),
    ),
    { maxLength: 3 },
  )
  .map((pairs) =>
    pairs.length === 0 ? '' : '?' + pairs.map(([k, v]) => `${encodeURIComponent(k)}=${v}`).join('&'),
  );

const callbackUrlArb = fc.oneof(
  fc.webUrl(),
  fc.constantFrom(
    'http://127.0.0.1:6379/',
    'http://[::ffff:127.0.0.1]/',
    'http://169.254.169.254/latest/meta-data/',
    'http://localhost/',
    'http://0x7f.1/',
    'ftp://example.com/',
    'http://',
    'https://hooks.example.com/done',
  ),
  unicode(),
);

/** Mostly `good` (so requests get deep), sometimes `bad`, sometimes absent. */
const field = <T, U>(good: fc.Arbitrary<T>, bad: fc.Arbitrary<U>, absent = 2) =>
  fc.oneof(
    { arbitrary: good, weight: 8 },
    { arbitrary: bad, weight: 1 },
    { arbitrary: fc.constant(undefined), weight: absent },
  );

/** Drops the keys whose value is undefined (absent, not null). */
const defined = <T extends object>(value: T) =>
  Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;

/** Near-valid tasks: each field mostly right, sometimes wrong, sometimes absent. */
const taskArb = fc
  .record({
    type: field(
      fc.constantFrom('echo', 'sleep', 'fail'),
      fc.oneof(fc.constantFrom('a'.repeat(129), 'has space', ''), text(20)),
      0,
    ),
    payload: field(fc.jsonValue({ maxDepth: 3 }), fc.constant(null)),
    key: field(
      text(20).filter((k) => k.length > 0),
      fc.oneof(fc.integer(), fc.constant('')),
    ),
    maxAttempts: field(
      fc.integer({ min: 1, max: 100 }),
      fc.oneof(fc.integer({ min: -5, max: 200 }), fc.double(), text(5)),
    ),
    timeoutMs: field(fc.integer({ min: 1, max: 60_000 }), fc.oneof(fc.integer(), fc.constant(1.5))),
    delayMs: field(
      fc.integer({ min: 0, max: 60_000 }),
      fc.oneof(fc.integer({ min: -10, max: 40 * 24 * 3_600_000 }), text(5)),
      6,
    ),
    runAt: field(
      fc
        .date({ min: new Date(), max: new Date(Date.now() + 24 * 3_600_000), noInvalidDate: true })
        .map((d) => d.toISOString()),
      fc.oneof(
        fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
        fc.constantFrom('2026-13-45T00:00:00Z', 'tomorrow', ''),
      ),
      12,
    ),
    callbackUrl: field(fc.webUrl({ validSchemes: ['https'] }), callbackUrlArb),
    extra: field(fc.constant(undefined), fc.jsonValue({ maxDepth: 1 }), 0),
  })
  .map(defined);

const jsonBody = (value: unknown) => Buffer.from(JSON.stringify(value) ?? 'null');

const bodyArb = fc.oneof(
  { arbitrary: taskArb.map(jsonBody), weight: 4 },
  { arbitrary: fc.record({ tasks: fc.array(taskArb, { maxLength: 25 }) }).map(jsonBody), weight: 3 },
  { arbitrary: fc.jsonValue({ maxDepth: 4 }).map(jsonBody), weight: 2 },
  { arbitrary: fc.uint8Array({ maxLength: 2 * MAX_BODY_BYTES }).map((b) => Buffer.from(b)), weight: 2 },
  {
    // Around the size limit.
    arbitrary: fc
      .integer({ min: MAX_BODY_BYTES - 64, max: MAX_BODY_BYTES + 64 })
      .map((n) => jsonBody({ type: 'echo', payload: 'x'.repeat(Math.max(0, n - 30)) })),
    weight: 1,
  },
  { arbitrary: fc.constant(undefined), weight: 1 },
);

const headersArb = fc
  .record({
    'content-type': field(
      fc.constant('application/json'),
      fc.oneof(
        fc.constantFrom(
          'application/json',
          'application/json; charset=utf-8',
          'application/json; charset=latin1',
          'application/json; charset=utf-16',
          'application/json; charset=x-nope',
          'application/json; charset',
          'application/json;;;',
          'text/plain',
          'application/x-www-form-urlencoded',
          'multipart/form-data; boundary=x',
          'application/merge-patch+json',
          '*/*',
        ),
        text(30),
      ),
      1,
    ),
    'content-encoding': field(
      fc.constant(undefined),
      fc.constantFrom('gzip', 'deflate', 'br', 'identity', 'x-nope'),
      0,
    ),
    authorization: field(
      fc.constant(`Bearer ${KEY}`),
      fc.oneof(fc.constantFrom('Bearer', `Basic ${KEY}`, `Bearer  ${KEY}`, `bearer ${KEY}`), text(30)),
      1,
    ),
    'idempotency-key': field(fc.constant(undefined), fc.oneof(text(10), fc.constant('x'.repeat(300))), 0),
    'x-request-id': field(fc.constant(undefined), text(140), 0),
    accept: fc.constantFrom('application/json', 'text/html', '*/*'),
    'x-fuzz': field(fc.constant(undefined), text(50), 0),
  })
  .map((headers) => defined(headers) as Record<string, string>);

/** [method, path template]: every route the routers define, plus ones they do not. */
const ROUTES: Array<[string, string]> = [
  ['POST', '/v1/tasks'],
  ['POST', '/v1/tasks/batch'],
  ['GET', '/v1/tasks/:id'],
  ['DELETE', '/v1/tasks/:id'],
  ['GET', '/v1/tasks'],
  ['POST', '/v1/tasks/:id/replay'],
  ['GET', '/v1/stats'],
  ['GET', '/v1/fleet'],
  ['GET', '/v1/dead-letters'],
  ['POST', '/v1/dead-letters/:id/replay'],
  ['POST', '/v1/batches'],
  ['POST', '/v1/batches/:id/tasks'],
  ['POST', '/v1/batches/:id/seal'],
  ['GET', '/v1/batches/:id'],
  ['DELETE', '/v1/batches/:id'],
  ['POST', '/v1/schedules'],
  ['GET', '/v1/schedules'],
  ['GET', '/v1/schedules/:id'],
  ['PATCH', '/v1/schedules/:id'],
  ['DELETE', '/v1/schedules/:id'],
  ['GET', '/healthz'],
  ['GET', '/readyz'],
  ['GET', '/openapi.json'],
  ['PUT', '/v1/tasks/:id'],
  ['PATCH', '/v1/tasks'],
  ['GET', '/v1/:id'],
  ['POST', '/v1/tasks/:id'],
  ['DELETE', '/v1/dead-letters/:id'],
];

describe('the API under random input', () => {
  let api: Awaited<ReturnType<typeof apiFor>>;
  /** The same API with a body limit that lets the deepest bodies in. */
  let deepApi: Awaited<ReturnType<typeof apiFor>>;
  const known: string[] = [];

  beforeAll(async () => {
    deepApi = await apiFor(uniqueQueue(), { API_KEYS: KEY, MAX_BODY_BYTES: String(1024 * 1024) });
    api = await apiFor(uniqueQueue(), {
      API_KEYS: KEY,
      MAX_BODY_BYTES: String(MAX_BODY_BYTES),
      BATCH_MAX_TASKS: '20',
      // High enough that most requests get past it, so the limiter's path is fuzzed too.
      RATE_LIMIT_PER_SECOND: '500',
      RATE_LIMIT_BURST: '1000',
    });
    // Real ids, so reads, cancels and replays also reach their found-a-record paths.
    for (let i = 0; i < 3; i++) {
      const created = await send(api.url, {
        method: 'POST',
        path: '/v1/tasks',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` },
        body: jsonBody({ type: 'echo', payload: i }),
      });
      known.push((JSON.parse(created.text) as { id: string }).id);
    }
  });
  afterAll(async () => {
    await api.stop();
    await deepApi.stop();
    agent.destroy();
  });

  const requestArb = () =>
    fc
      .record({
        route: fc.constantFrom(...ROUTES),
        id: idArb(known),
        query: queryArb,
        headers: headersArb,
        body: bodyArb,
      })
      .map(({ route: [method, template], id, query, headers, body }): FuzzRequest => {
        // A long-poll on a real task would wait out its `wait`: only ids that cannot exist get one.
        const safeQuery = known.includes(id) && method === 'GET' ? '' : query;
        return { method, path: template.replace(':id', id) + safeQuery, headers, body };
      });

  it('never answers 5xx, and every 4xx is the documented error shape', async () => {
    await fc.assert(
      fc.asyncProperty(requestArb(), async (req) => check(req, await send(api.url, req))),
      { numRuns: 300, interruptAfterTimeLimit: 40_000 },
    );
  });

  it('never answers 5xx to submissions of near-valid tasks and batches', async () => {
    const submission = fc
      .record({
        path: fc.constantFrom('/v1/tasks', '/v1/tasks/batch'),
        task: taskArb,
        batch: fc.array(taskArb, { maxLength: 25 }),
        // Mostly none; sometimes a fresh one; now and then a reused one (a replay or a 409).
        idempotencyKey: fc.oneof(
          { arbitrary: fc.constant(undefined), weight: 6 },
          { arbitrary: fc.uuid(), weight: 2 },
          { arbitrary: fc.constantFrom('k1', 'k2'), weight: 1 },
        ),
      })
      .map(({ path, task, batch, idempotencyKey }): FuzzRequest => ({
        method: 'POST',
        path,
        headers: {
          'content-type': 'application/json',
          authorization: `Bearer ${KEY}`,
          ...(idempotencyKey && { 'idempotency-key': idempotencyKey }),
        },
        body: jsonBody(path.endsWith('batch') ? { tasks: batch } : task),
      }));
    await fc.assert(
      fc.asyncProperty(submission, async (req) => check(req, await send(api.url, req))),
      { numRuns: 150, interruptAfterTimeLimit: 20_000 },
    );
  });

  it('answers deep nesting, to depths in the thousands, with a 422 naming the body, never a 5xx', async () => {
    const post = (body: string, max = MAX_BODY_BYTES) =>
      send(max === MAX_BODY_BYTES ? api.url : deepApi.url, {
        method: 'POST',
        path: '/v1/tasks',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` },
        body: Buffer.from(body),
      });
    const nested = (depth: number, open = '[', close = ']') =>
      `{"type": "echo", "payload": ${open.repeat(depth)}${close.repeat(depth)}}`;
    // The payload sits one level inside the task object: MAX_JSON_DEPTH levels in all pass.
    expect((await post(nested(MAX_JSON_DEPTH - 1))).status).toBe(202);
    const refused = await post(nested(MAX_JSON_DEPTH));
    expect(refused.status).toBe(422);
    expect(JSON.parse(refused.text).error).toMatchObject({
      code: 'validation_failed',
      details: [{ field: 'body' }],
    });
    // What broke it: 400 KB nested 200,000 levels deep (an API with a body limit that lets it in).
    expect((await post(nested(200_000), 1024 * 1024)).status).toBe(422);
    // And whatever mix of objects, arrays and strings holding brackets, at any depth up to 5,000.
    const deep = fc
      .array(fc.constantFrom(['[', ']'], ['{"a":', '}'], ['["]{[",', ']']), { minLength: 1, maxLength: 5000 })
      .map(
        (levels) =>
          `{"type":"echo","payload":${levels.map(([o]) => o).join('')}1${levels
            .map(([, c]) => c)
            .reverse()
            .join('')}}`,
      );
    await fc.assert(
      fc.asyncProperty(deep, async (body) => {
        const reply = await send(deepApi.url, {
          method: 'POST',
          path: '/v1/tasks',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` },
          body: Buffer.from(body),
        });
        expect(reply.status).toBeLessThan(500);
        expect([202, 422]).toContain(reply.status);
      }),
      { numRuns: 60 },
    );
  });

  it('is still up and serving afterwards', async () => {
    expect((await send(api.url, { method: 'GET', path: '/healthz', headers: {} })).status).toBe(200);
    const stats = await send(api.url, {
      method: 'GET',
      path: '/v1/stats',
      headers: { authorization: `Bearer ${KEY}` },
    });
    expect(stats.status).toBe(200);
  });
});
