import { ConfigError, EnvReader } from '../shared/env-reader';
import { usageError } from './exit-codes';

/** Where the CLI's API listens unless --url or SPILLWAY_URL says otherwise (`npm run dev`'s API). */
export const DEFAULT_API_URL = 'http://127.0.0.1:8080';

export interface CliConfig {
  /** The API's base URL, without a trailing slash (--url, else SPILLWAY_URL, else DEFAULT_API_URL). */
  url: string;
  /** Sent as `Authorization: Bearer` (SPILLWAY_API_KEY); none: no header. */
  apiKey?: string;
  /** What `fleet` needs to find a kubeconfig, as kubectl does. */
  kube: { KUBECONFIG?: string; HOME?: string };
}

type Env = Readonly<Record<string, string | undefined>>;

/** Reads the environment once; a bad value is a usage error naming the variable. */
export function loadCliConfig(env: Env, urlFlag: string | undefined): CliConfig {
  const reader = new EnvReader(env);
  const fromEnv = reader.url('SPILLWAY_URL', DEFAULT_API_URL, ['http:', 'https:']);
  const apiKey = reader.string('SPILLWAY_API_KEY', '');
  try {
    reader.finish();
  } catch (err) {
    throw err instanceof ConfigError ? usageError(err.problems.join('\n')) : err;
  }
  let url = fromEnv;
  if (urlFlag !== undefined) {
    let ok = false;
    try {
      ok = ['http:', 'https:'].includes(new URL(urlFlag).protocol);
    } catch {
      ok = false;
    }
    if (!ok)
      throw usageError(`--url "${urlFlag}" is not valid: expected a URL starting with http:// or https://`);
    url = urlFlag;
  }
  return {
    url: url.replace(/\/+$/, ''),
    ...(apiKey && { apiKey }),
    kube: { KUBECONFIG: env.KUBECONFIG, HOME: env.HOME },
  };
}
