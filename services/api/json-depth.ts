/**
 * The deepest nesting of objects and arrays a request body may have. Without a limit, a body of
 * 400 KB nested 200,000 levels deep parses, then fails JSON.stringify with a RangeError (the
 * record cannot be written or answered: a 500). Real payloads are a few levels deep.
 */
export const MAX_JSON_DEPTH = 64;

const OPEN_OBJECT = 0x7b;
const OPEN_ARRAY = 0x5b;
const CLOSE_OBJECT = 0x7d;
const CLOSE_ARRAY = 0x5d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * True when the JSON text in `body` nests objects and arrays deeper than `max`. One pass over the
 * bytes, before parsing, skipping strings (a bracket inside one does not count); the text need not
 * be valid: the parser judges that.
 */
export function nestedDeeperThan(body: Buffer, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < body.length; i++) {
    const byte = body[i]!;
    if (inString) {
      if (byte === BACKSLASH) i++;
      else if (byte === QUOTE) inString = false;
    } else if (byte === QUOTE) {
      inString = true;
    } else if (byte === OPEN_OBJECT || byte === OPEN_ARRAY) {
      if (++depth > max) return true;
    } else if (byte === CLOSE_OBJECT || byte === CLOSE_ARRAY) {
      depth--;
    }
  }
  return false;
}
