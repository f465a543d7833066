import { freeze, readCommonConfig, type CommonConfig } from '../shared/config';
import { EnvReader } from '../shared/env-reader';

export interface WorkerConfig extends CommonConfig {
  /** Port of the probe and metrics server (PORT, default 8081). */
  port: number;
  /** Kafka consumer session timeout (KAFKA_SESSION_TIMEOUT_MS, default 30000). */
  sessionTimeoutMs: number;
  /** Longest wait for in-flight tasks on shutdown (SHUTDOWN_TIMEOUT_MS, default 25000). */
  shutdownTimeoutMs: number;
}

export function loadWorkerConfig(env: NodeJS.ProcessEnv): Readonly<WorkerConfig> {
  const reader = new EnvReader(env);
  const config: WorkerConfig = {
    ...readCommonConfig(reader),
    port: reader.int('PORT', 8081, { min: 0, max: 65535 }),
    sessionTimeoutMs: reader.int('KAFKA_SESSION_TIMEOUT_MS', 30_000, { min: 6000, max: 300_000 }),
    shutdownTimeoutMs: reader.int('SHUTDOWN_TIMEOUT_MS', 25_000, { min: 0, max: 600_000 }),
  };
  reader.finish();
  return freeze(config);
}
