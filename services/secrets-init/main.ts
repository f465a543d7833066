import { resolveKubeSource } from '../shared/kubernetes/kube-source';
import { ConfigError } from '../shared/env-reader';
import { createLogger } from '../shared/logger';
import { loadSecretsInitConfig } from './config';
import { runAction } from './generator';

/**
 * The secrets generator's process: the chart's hook Jobs run it from the API image
 * (`node dist/services/secrets-init/main.js`) when generatedSecrets.mode is `job`, SECRETS_INIT_ACTION
 * `ensure` before install and upgrade (Argo CD: PreSync), `remove` after uninstall. It runs once and
 * exits: 0 when every Secret is as it should be, 1 with a message saying what to fix otherwise.
 * Outside a pod it uses KUBECONFIG, as kubectl does (the cluster tests run it so).
 */
async function main(): Promise<number> {
  let config;
  try {
    config = loadSecretsInitConfig(process.env);
  } catch (err) {
    console.error(err instanceof ConfigError ? err.message : err);
    return 1;
  }
  const logger = createLogger(config.logLevel, { service: 'secrets-init', namespace: config.namespace });
  try {
    // client-node is an ES module: loaded only here, once the configuration is known to be good.
    const { KubeSecretStore } = await import('./kube-secret-store');
    const store = KubeSecretStore.create(resolveKubeSource(process.env), config.namespace, config.timeoutMs);
    const outcomes = await runAction(config.action, store, config.secrets, logger);
    logger.info(`${config.action}: done`, { outcomes });
    return 0;
  } catch (err) {
    logger.error(`${config.action} failed: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
