import { errorMessage } from '../shared/errors';
import type { Logger } from '../shared/logger';
import type { AutoscalerPause } from '../shared/kubernetes/autoscaler-pause';
import { anythingPaused, type PauseState, type PauseStore } from '../shared/redis/pause-store';
import type { AUTOSCALING_OUTCOMES } from './queue-schema';

export type AutoscalingOutcome =
  | { autoscaling: Exclude<(typeof AUTOSCALING_OUTCOMES)[number], 'failed'> }
  | { autoscaling: 'failed'; autoscalingError: string };

/** How often the ScaledObject is brought in line with the pause state besides each change. */
const RECONCILE_MS = 60_000;

/**
 * Keeps KEDA's pause annotation on the workers' ScaledObject in line with the pause state: set
 * while anything is paused (held tasks keep their partitions' commits back, so the lag KEDA reads
 * grows under a type's pause too), removed once nothing is. Applied after every change, and again
 * every minute from the state in Redis: that repairs a patch that failed, and two API instances
 * whose changes crossed. The reconciliation removes the annotation only where this instance set
 * it (or failed to remove it), so an operator's own pause of KEDA is not undone every minute.
 */
export class AutoscalerSync {
  private timer?: NodeJS.Timeout;
  /** Whether the last patch this instance tried left the annotation set, or may have (it failed). */
  private mayHaveSet = false;

  constructor(
    private readonly autoscaler: AutoscalerPause | undefined,
    private readonly store: Pick<PauseStore, 'read'>,
    private readonly logger: Logger,
  ) {}

  /** Patches the ScaledObject to match `state`; never throws (the pause holds without it). */
  async apply(state: PauseState): Promise<AutoscalingOutcome> {
    if (!this.autoscaler) return { autoscaling: 'unmanaged' };
    const paused = anythingPaused(state);
    try {
      await this.autoscaler.setPaused(paused);
      this.mayHaveSet = paused;
      return { autoscaling: paused ? 'paused' : 'resumed' };
    } catch (err) {
      this.mayHaveSet = true;
      this.logger.warn('could not pause or resume the autoscaler', { error: errorMessage(err) });
      return { autoscaling: 'failed', autoscalingError: errorMessage(err) };
    }
  }

  /** Reconciles now (a pause made while no API ran) and every minute; a no-op without an autoscaler. */
  start(): void {
    if (!this.autoscaler) return;
    void this.reconcile();
    this.timer = setInterval(() => void this.reconcile(), RECONCILE_MS);
    this.timer.unref();
  }

  close(): void {
    clearInterval(this.timer);
  }

  private async reconcile(): Promise<void> {
    try {
      const state = await this.store.read();
      if (anythingPaused(state) || this.mayHaveSet) await this.apply(state);
    } catch (err) {
      this.logger.warn('could not read the pause state to reconcile the autoscaler', {
        error: errorMessage(err),
      });
    }
  }
}
