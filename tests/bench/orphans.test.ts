import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = join(__dirname, '..', '..');

/** Gone, or a zombie nobody reaps yet (its parent died): either way it no longer runs. */
function running(pid: number): boolean {
  try {
    const state = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[0];
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/**
 * A bench killed outright (SIGKILL, or a pipe closed under it) cannot stop the API and worker
 * processes it started; they must notice and stop themselves, or they load every later run.
 */
describe('bench children', () => {
  it('stop themselves when the bench that started them is killed', async () => {
    const parent = spawn(
      process.execPath,
      ['--import', 'tsx', join(root, 'tests/fixtures/bench-parent.ts')],
      {
        cwd: root,
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    const pid = await new Promise<number>((resolve, reject) => {
      let out = '';
      parent.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /CHILD_PID (\d+)/.exec(out);
        if (m) resolve(Number(m[1]));
      });
      parent.once('exit', (code) => reject(new Error(`the parent exited with ${code} first`)));
    });
    expect(running(pid)).toBe(true);

    parent.kill('SIGKILL');
    const deadline = Date.now() + 15_000;
    while (running(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    const stillRunning = running(pid);
    if (stillRunning) process.kill(pid, 'SIGKILL'); // leave nothing behind, then fail
    expect(stillRunning).toBe(false);
  }, 60_000);
});
