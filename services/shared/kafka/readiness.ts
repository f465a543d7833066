import type { Admin, Kafka } from 'kafkajs';
import type { ReadinessCheck } from '../http/probes';

/**
 * Asks the cluster for its metadata through an admin client that does not retry, so a broker
 * that is down fails the check at once instead of after kafkajs' backoff.
 */
export function kafkaReadiness(kafka: Kafka): ReadinessCheck & { close(): Promise<void> } {
  let admin: Admin | undefined;
  return {
    name: 'kafka',
    async check() {
      admin ??= kafka.admin({ retry: { retries: 0 } });
      await admin.connect();
      await admin.describeCluster();
    },
    async close() {
      await admin?.disconnect();
    },
  };
}
