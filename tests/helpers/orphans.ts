import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = join(__dirname, '..', '..');

/**
 * Preloaded (`node --require`) into every process the tests, chaos runs and benches start: it
 * stops the process once the one that started it is gone (see the file).
 */
export const ORPHAN_GUARD = join(__dirname, 'orphan-guard.js');

/** Gone, or a zombie nobody reaps yet (its parent died): either way it no longer runs. */
function running(pid: number): boolean {
  try {
    const state = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[0];
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

export interface Orphaning {
  /** Whether the child still ran `withinMs` after its parent was killed (it is killed then). */
  outlived: boolean;
  /** What the fixture printed before it was killed. */
  printed: string;
}

/**
 * Runs a fixture (through tsx, with `args`) that starts a child process and prints
 * `CHILD_PID <pid>` once it runs (and whatever else the test needs, on the same line), SIGKILLs
 * the fixture, and watches the child for `withinMs`. A child still running then is SIGKILLed,
 * so a failing test leaves nothing behind.
 */
export async function killParentOf(
  fixture: string,
  options: {
    args?: string[];
    /** Run once the parent is killed, with what it printed (to make the child do something). */
    afterKill?: (printed: string) => Promise<void>;
    withinMs?: number;
  } = {},
): Promise<Orphaning> {
  const { args = [], afterKill, withinMs = 15_000 } = options;
  const parent = spawn(process.execPath, ['--import', 'tsx', join(root, fixture), ...args], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let printed = '';
  const pid = await new Promise<number>((resolve, reject) => {
    parent.stdout.on('data', (d: Buffer) => {
      printed += d.toString();
      const m = /CHILD_PID (\d+).*\n/.exec(printed);
      if (m) resolve(Number(m[1]));
    });
    parent.once('exit', (code) => reject(new Error(`the parent exited with ${code} first`)));
  });
  if (!running(pid)) throw new Error(`the child ${pid} was not running before its parent was killed`);

  parent.kill('SIGKILL');
  await afterKill?.(printed);
  const deadline = Date.now() + withinMs;
  while (running(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  const outlived = running(pid);
  if (outlived) process.kill(pid, 'SIGKILL');
  return { outlived, printed };
}
