/**
 * Where a page of dead letters ends: the score (when it died) and id of the last entry, so the
 * next page starts after it whatever arrived or left since. Opaque to clients (base64url JSON).
 */
export interface Position {
  score: string;
  id: string;
}

/** A cursor that is not one the dead-letter store issued. */
export class InvalidCursorError extends Error {
  constructor() {
    super('not a cursor from a previous page');
    this.name = 'InvalidCursorError';
  }
}

/** [id, score, id, score, ...] as WITHSCORES answers. */
export function pairs(flat: string[]): Position[] {
  const out: Position[] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) out.push({ id: flat[i]!, score: flat[i + 1]! });
  return out;
}

export function encodeCursor({ score, id }: Position): string {
  return Buffer.from(JSON.stringify([Number(score), id])).toString('base64url');
}

/** Throws InvalidCursorError for anything encodeCursor did not make. */
export function decodeCursor(cursor: string): Position {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw new InvalidCursorError();
  }
  if (!Array.isArray(parsed) || parsed.length !== 2) throw new InvalidCursorError();
  const [score, id] = parsed as unknown[];
  if (typeof score !== 'number' || !Number.isFinite(score) || typeof id !== 'string' || id === '') {
    throw new InvalidCursorError();
  }
  // String(number) round-trips a double exactly, so the tie query matches the stored score.
  return { score: String(score), id };
}
