import type { ChaosOptions } from '../options';
import type { ScenarioDefinition } from '../scenario';
import { apiKillScenario } from './api-kill';
import { baselineScenario } from './baseline';
import { batchKillScenario } from './batch-kill';
import { callbackHangScenario } from './callback-hang';
import { delayedKafkaOutageScenario } from './delayed-kafka-outage';
import { hungHandlersScenario } from './hung-handlers';
import { kafkaOutageScenario } from './kafka-outage';
import { poisonScenario } from './poison';
import { redisOutageScenario } from './redis-outage';
import { redisOutageRetriesScenario } from './redis-outage-retries';
import { rollingRestartScenario } from './rolling-restart';
import { tenantLimitsScenario } from './tenant-limits';
import { workerKillScenario } from './worker-kill';

/** Every scenario of a full run, in the order they run (fresh definitions: they keep state). */
export function allScenarios(options: ChaosOptions): ScenarioDefinition[] {
  return [
    baselineScenario(options.baselineMs),
    workerKillScenario(),
    batchKillScenario(),
    kafkaOutageScenario(),
    delayedKafkaOutageScenario(),
    redisOutageScenario(),
    redisOutageRetriesScenario(),
    apiKillScenario(),
    poisonScenario(),
    hungHandlersScenario(),
    callbackHangScenario(),
    rollingRestartScenario(options),
    tenantLimitsScenario(),
  ];
}
