import type { CommonConfig } from './config';
import { ConfigError } from './env-reader';
import { createLogger, type Logger } from './logger';

/**
 * First SIGTERM or SIGINT starts a graceful shutdown and exits when it is done; a second one
 * exits at once (an operator who presses Ctrl-C twice means it).
 */
export function exitOnSignals(logger: Logger, shutdown: () => Promise<void>): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn('second signal: exiting now', { signal });
      process.exit(1);
    }
    stopping = true;
    logger.info('shutting down', { signal });
    const started = Date.now();
    shutdown().then(
      () => {
        logger.info('stopped', { seconds: (Date.now() - started) / 1000 });
        process.exit(0);
      },
      (err: unknown) => {
        logger.error('shutdown failed', { error: String(err) });
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}

/**
 * Runs cleanups in order; one that fails does not skip the rest. The first failure is rethrown
 * at the end. Returns the same promise when called again.
 */
export function onceInOrder(cleanups: (() => Promise<unknown>)[]): () => Promise<void> {
  let running: Promise<void> | undefined;
  return () => {
    running ??= (async () => {
      let firstError: unknown;
      for (const cleanup of cleanups) {
        try {
          await cleanup();
        } catch (err) {
          firstError ??= err;
        }
      }
      if (firstError !== undefined) throw firstError;
    })();
    return running;
  };
}

/** A started service: `failed`, if given, resolves when it can no longer work (then it is stopped). */
export interface RunningService {
  stop(): Promise<void>;
  failed?: Promise<Error>;
}

/**
 * The entry point of a service process: loads its config (printing every bad variable and
 * exiting 1 if any), starts it, and hands its stop() to the signal handlers. A service that
 * fails while running is stopped and the process exits 1: an idle process that stays up would
 * look alive to its orchestrator for ever, while a restarted one starts afresh.
 */
export function runService<C extends CommonConfig>(
  service: string,
  loadConfig: () => C,
  start: (config: C, logger: Logger) => Promise<RunningService>,
): void {
  let config: C;
  try {
    config = loadConfig();
  } catch (err) {
    console.error(err instanceof ConfigError ? err.message : err);
    process.exit(1);
  }
  const logger = createLogger(config.logLevel, { service, queue: config.queue });
  start(config, logger).then(
    (running) => {
      exitOnSignals(logger, running.stop);
      void running.failed?.then(async (err) => {
        logger.error('cannot go on; stopping so that the process is restarted', { error: String(err) });
        await running.stop().catch(() => undefined);
        process.exit(1);
      });
    },
    (err: unknown) => {
      logger.error('failed to start', { error: String(err) });
      process.exit(1);
    },
  );
}
