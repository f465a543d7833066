import { API_ROOT } from './api';
import type { TaskRecord } from './types';

/**
 * The task as a `curl` submission, to run it again from a terminal or a script. The key is
 * written as `$SPILLWAY_API_KEY`, never the key itself: the command gets pasted into chats,
 * tickets and shell history.
 */
export function curlCommand(task: TaskRecord): string {
  const body: Record<string, unknown> = { type: task.type };
  if (task.payload !== undefined) body.payload = task.payload;
  if (task.key) body.key = task.key;
  if (task.priority && task.priority !== 'normal') body.priority = task.priority;
  if (task.maxAttempts !== undefined) body.maxAttempts = task.maxAttempts;
  if (typeof task.timeoutMs === 'number') body.timeoutMs = task.timeoutMs;
  if (task.callbackUrl) body.callbackUrl = task.callbackUrl;
  const url = `${location.origin}${API_ROOT}/v1/tasks`;
  return [
    `curl -sS -X POST ${shellQuote(url)}`,
    `  -H "Authorization: Bearer $SPILLWAY_API_KEY"`,
    `  -H 'Content-Type: application/json'`,
    `  -d ${shellQuote(JSON.stringify(body))}`,
  ].join(' \\\n');
}

/** A POSIX shell word: single quotes, each ' written as '\''. */
export function shellQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}
