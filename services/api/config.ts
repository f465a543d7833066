import { freeze, readCommonConfig, type CommonConfig } from '../shared/config';
import { EnvReader } from '../shared/env-reader';

export interface ApiConfig extends CommonConfig {
  /** PORT, default 8080. */
  port: number;
  /** Longest wait for Kafka to acknowledge a submission before answering 503 (PUBLISH_TIMEOUT_MS, default 5000). */
  publishTimeoutMs: number;
  /** Largest request body accepted (MAX_BODY_BYTES, default 1 MiB). */
  maxBodyBytes: number;
}

export function loadApiConfig(env: NodeJS.ProcessEnv): Readonly<ApiConfig> {
  const reader = new EnvReader(env);
  const config: ApiConfig = {
    ...readCommonConfig(reader),
    port: reader.int('PORT', 8080, { min: 0, max: 65535 }),
    publishTimeoutMs: reader.int('PUBLISH_TIMEOUT_MS', 5000, { min: 100, max: 120_000 }),
    maxBodyBytes: reader.int('MAX_BODY_BYTES', 1024 * 1024, { min: 1024, max: 64 * 1024 * 1024 }),
  };
  reader.finish();
  return freeze(config);
}
