/**
 * What the dead-letter actions answer (docs/api.md, "Dead letters"; the OpenAPI describes each
 * field): the API builds these, the CLI and the console read them. It imports nothing: the
 * console's browser bundle takes it as it is.
 */

/** POST /v1/dead-letters/replay or /discard with `dryRun`: nothing done, only counted. */
export interface BulkDryRunReport {
  matched: number;
}

/** POST /v1/dead-letters/replay: matched = replayed + alreadyReplayed + notReplayable + failed. */
export interface BulkReplayReport {
  matched: number;
  replayed: number;
  alreadyReplayed: number;
  notReplayable: number;
  failed: number;
  tasks: { deadLetter: string; taskId: string }[];
}

/** POST /v1/dead-letters/discard: matched − discarded were being replayed at the time. */
export interface BulkDiscardReport {
  matched: number;
  discarded: number;
}

/** POST /v1/dead-letters/rebuild: what it found on the dead-letter topic, by what it did with each. */
export interface RebuildReport {
  read: number;
  /** Indexed again: Redis had lost them. */
  restored: number;
  /** Redis had them already (their replay state is kept). */
  present: number;
  /** Discarded through the API (DELETE, POST /v1/dead-letters/discard): left out. */
  discarded: number;
  /** Older than DEAD_LETTER_TTL_SECONDS: Redis would have let them go too. */
  expired: number;
  /** Not a dead letter Spillway wrote. */
  unreadable: number;
}
