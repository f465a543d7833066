import { freeze, readCommonConfig, type CommonConfig } from '../shared/config';
import { EnvReader } from '../shared/env-reader';
import type { BatchingOptions } from '../shared/kafka/batching-publisher';
import { readFleetConfig, type FleetConfig } from '../shared/kubernetes/fleet-config';
import { readCallbackAllowList, type AddressAllowList } from '../shared/net/address-policy';
import { API_KEY_PATTERN } from '../shared/tenancy/access-file';
import type { RateLimit } from '../shared/tenancy/tenant';
import { DEFAULT_LONG_POLL_LIMITS, type LongPollLimits } from './long-polls';
import { DEFAULT_LIVE_LIMITS, type LiveLimits } from './live/task-event-hub';
import { TASK_TYPE_PATTERN } from './schemas';
import { defaultConsoleDir } from './console/paths';

export interface ApiConfig extends CommonConfig {
  /** PORT, default 8080. */
  port: number;
  /** Bearer keys accepted on /v1 (API_KEYS, comma-separated, at least 16 characters each); none: auth off. */
  apiKeys: string[];
  /**
   * A file of bearer keys, one per line or comma-separated (API_KEYS_FILE; e.g. a mounted Secret),
   * accepted besides API_KEYS and re-read while the API runs, so removing a key revokes it.
   */
  apiKeysFile?: string;
  /**
   * Tenants declared outside the keys' Secret (API_TENANTS_FILE; the chart's ConfigMap of
   * `api.auth.tenants`): the keys file's format with key digests only, read together with
   * API_KEYS_FILE (a tenant declared here may have its keys there) and re-read with it.
   */
  apiTenantsFile?: string;
  /** How often API_KEYS_FILE and API_TENANTS_FILE are re-read (API_KEYS_RELOAD_MS, default 2000). */
  apiKeysReloadMs: number;
  /** Task types accepted (TASK_TYPES, comma-separated); empty: any type. */
  allowedTypes: string[];
  /** Largest request body accepted (MAX_BODY_BYTES, default 1 MiB). */
  maxBodyBytes: number;
  /** Tasks in one POST /v1/tasks/batch at most (BATCH_MAX_TASKS, default 1000). */
  maxBatchTasks: number;
  /** How long an Idempotency-Key is remembered (IDEMPOTENCY_TTL_SECONDS, default 24 h). */
  idempotencyTtlSeconds: number;
  /** Internal callback hosts and ranges allowed (CALLBACK_ALLOW_HOSTS, CALLBACK_ALLOW_CIDRS), as the worker's. */
  callbackAllow: AddressAllowList;
  /**
   * Submissions per API key (per client address when auth is off), in tasks: RATE_LIMIT_PER_SECOND
   * (default 0: no limit) refilled each second, up to RATE_LIMIT_BURST (default: one second's worth).
   */
  rateLimit: { perSecond: number; burst: number };
  /**
   * Unfinished tasks a tenant may have before its submissions get 429 `tenant_queue_full`
   * (TENANT_MAX_QUEUED, default 0: no limit), unless its keys-file line sets max-queued.
   */
  tenantMaxQueued: number;
  /**
   * Tasks a tenant may run at once across every worker (TENANT_MAX_RUNNING, default 0: no limit),
   * unless its keys-file line sets max-running. The API writes these to Redis for the workers.
   */
  tenantMaxRunning: number;
  /**
   * Each tenant's spill allowance: tasks beyond TENANT_SPILL_RATE per second (default 0: no spill),
   * up to TENANT_SPILL_BURST at once (default ten seconds' worth), go to the overflow lane; a
   * keys-file line's spill-rate= replaces it.
   */
  tenantSpill: RateLimit;
  longPolls: LongPollLimits;
  /**
   * GET /v1/events: EVENTS_MAX_CLIENTS streams per process (default 200), each cut past
   * EVENTS_MAX_UNSENT_BYTES unread (default 1 MiB), a keep-alive every EVENTS_KEEPALIVE_MS (default 15000).
   */
  liveEvents: LiveLimits;
  publishing: BatchingOptions;
  /** GET /v1/fleet (FLEET_NAMESPACE, FLEET_WORKER_DEPLOYMENT, FLEET_SCALED_OBJECT, KUBECONFIG); null: off. */
  fleet: FleetConfig | null;
  /**
   * The web console at /console (docs/configuration.md): CONSOLE_ENABLED (default true; false:
   * /console answers 404), and CONSOLE_DIR, the built console (default: dist/console, which
   * `npm run build` writes and the image ships).
   */
  webConsole: { enabled: boolean; dir: string };
}

export function loadApiConfig(env: NodeJS.ProcessEnv): Readonly<ApiConfig> {
  const reader = new EnvReader(env);
  const config: ApiConfig = {
    ...readCommonConfig(reader),
    port: reader.int('PORT', 8080, { min: 0, max: 65535 }),
    apiKeys: reader.list(
      'API_KEYS',
      { re: API_KEY_PATTERN, hint: '16 to 256 printable characters each' },
      true,
    ),
    allowedTypes: reader.list('TASK_TYPES', { re: new RegExp(TASK_TYPE_PATTERN), hint: 'task type names' }),
    maxBodyBytes: reader.int('MAX_BODY_BYTES', 1024 * 1024, { min: 1024, max: 64 * 1024 * 1024 }),
    maxBatchTasks: reader.int('BATCH_MAX_TASKS', 1000, { min: 1, max: 10_000 }),
    idempotencyTtlSeconds: reader.int('IDEMPOTENCY_TTL_SECONDS', 24 * 3600, { min: 60 }),
    apiKeysReloadMs: reader.int('API_KEYS_RELOAD_MS', 2000, { min: 100, max: 300_000 }),
    callbackAllow: readCallbackAllowList(reader),
    rateLimit: readRateLimit(reader),
    tenantMaxQueued: reader.int('TENANT_MAX_QUEUED', 0, { min: 0, max: 1_000_000_000 }),
    tenantMaxRunning: reader.int('TENANT_MAX_RUNNING', 0, { min: 0, max: 1_000_000 }),
    tenantSpill: readSpill(reader),
    longPolls: {
      total: reader.int('LONG_POLL_MAX', DEFAULT_LONG_POLL_LIMITS.total, { min: 1, max: 1_000_000 }),
      perClient: reader.int('LONG_POLL_MAX_PER_CLIENT', DEFAULT_LONG_POLL_LIMITS.perClient, {
        min: 1,
        max: 1_000_000,
      }),
    },
    liveEvents: {
      maxClients: reader.int('EVENTS_MAX_CLIENTS', DEFAULT_LIVE_LIMITS.maxClients, { min: 1, max: 100_000 }),
      maxUnsentBytes: reader.int('EVENTS_MAX_UNSENT_BYTES', DEFAULT_LIVE_LIMITS.maxUnsentBytes, {
        min: 1024,
        max: 256 * 1024 * 1024,
      }),
      keepAliveMs: reader.int('EVENTS_KEEPALIVE_MS', DEFAULT_LIVE_LIMITS.keepAliveMs, {
        min: 100,
        max: 300_000,
      }),
    },
    fleet: readFleetConfig(reader),
    webConsole: {
      enabled: reader.oneOf('CONSOLE_ENABLED', 'true', ['true', 'false']) === 'true',
      dir: reader.string('CONSOLE_DIR', defaultConsoleDir(), { re: /^\//, hint: 'an absolute path' }),
    },
    publishing: {
      /** PUBLISH_TIMEOUT_MS, default 5000: longest wait for Kafka before answering 503. */
      timeoutMs: reader.int('PUBLISH_TIMEOUT_MS', 5000, { min: 100, max: 120_000 }),
      /** PUBLISH_LINGER_MS, default 2: how long an idle publisher waits to fill a batch. */
      lingerMs: reader.int('PUBLISH_LINGER_MS', 2, { min: 0, max: 1000 }),
      /** PUBLISH_BATCH_MESSAGES, default 2000. */
      maxBatchMessages: reader.int('PUBLISH_BATCH_MESSAGES', 2000, { min: 1, max: 100_000 }),
      /** PUBLISH_BATCH_BYTES, default 900 KiB: under Kafka's default message.max.bytes of 1 MiB. */
      maxBatchBytes: reader.int('PUBLISH_BATCH_BYTES', 900 * 1024, { min: 1024, max: 64 * 1024 * 1024 }),
      /** PUBLISH_MAX_PENDING, default 100000: beyond it submissions get 503 at once. */
      maxPendingMessages: reader.int('PUBLISH_MAX_PENDING', 100_000, { min: 1 }),
      /** PUBLISH_MAX_PENDING_BYTES, default 64 MiB: likewise, counted in bytes (big payloads). */
      maxPendingBytes: reader.int('PUBLISH_MAX_PENDING_BYTES', 64 * 1024 * 1024, { min: 1024 * 1024 }),
    },
  };
  const apiKeysFile = reader.string('API_KEYS_FILE', '', { re: /^\//, hint: 'an absolute path' });
  if (apiKeysFile) config.apiKeysFile = apiKeysFile;
  const apiTenantsFile = reader.string('API_TENANTS_FILE', '', { re: /^\//, hint: 'an absolute path' });
  if (apiTenantsFile) config.apiTenantsFile = apiTenantsFile;
  reader.finish();
  return freeze(config);
}

function readSpill(reader: EnvReader): RateLimit {
  const perSecond = reader.int('TENANT_SPILL_RATE', 0, { min: 0, max: 1_000_000 });
  const burst = reader.int('TENANT_SPILL_BURST', Math.max(perSecond * 10, 1), { min: 1, max: 10_000_000 });
  return { perSecond, burst };
}

function readRateLimit(reader: EnvReader): ApiConfig['rateLimit'] {
  const perSecond = reader.int('RATE_LIMIT_PER_SECOND', 0, { min: 0, max: 1_000_000 });
  const burst = reader.int('RATE_LIMIT_BURST', Math.max(perSecond, 1), { min: 1, max: 10_000_000 });
  return { perSecond, burst };
}
