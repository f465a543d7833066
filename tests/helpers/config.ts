import { ConfigError } from '../../services/shared/env-reader';

/** The problems a config loader reports, for asserting that each bad variable is named. */
export function problemsOf(load: () => unknown): readonly string[] {
  try {
    load();
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('expected a ConfigError');
}
