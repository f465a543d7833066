import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The compiled CLI, as `npm install` links it (package.json "bin"). */
export const CLI = join(__dirname, '..', '..', 'dist', 'services', 'cli', 'main.js');

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `spillway <args>` as its own process. The environment holds only what is given (plus
 * PATH and an empty HOME), so no developer's KUBECONFIG or SPILLWAY_URL leaks in; stdin is
 * `input`, or empty.
 */
export function spillway(
  args: string[],
  env: Record<string, string> = {},
  input?: string,
  timeoutMs = 60_000,
): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      env: { PATH: process.env.PATH, HOME: emptyHome(), ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(input ?? '');
  });
}

let home: string | undefined;
function emptyHome(): string {
  home ??= mkdtempSync(join(tmpdir(), 'spillway-cli-home-'));
  return home;
}
