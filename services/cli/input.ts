import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { usageError } from './exit-codes';
import type { Io } from './output';

/** Non-empty lines of a file, or of stdin for "-", with their line numbers. */
export async function readLines(file: string, io: Io): Promise<{ text: string; line: number }[]> {
  const input = file === '-' ? io.stdin : createReadStream(file);
  const lines: { text: string; line: number }[] = [];
  try {
    let line = 0;
    for await (const text of createInterface({
      input: input as NodeJS.ReadableStream,
      crlfDelay: Infinity,
    })) {
      line++;
      if (text.trim() !== '') lines.push({ text, line });
    }
  } catch (err) {
    throw usageError(`cannot read ${file === '-' ? 'stdin' : file}: ${(err as Error).message}`);
  }
  return lines;
}
