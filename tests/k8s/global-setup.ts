import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

const root = join(__dirname, '..', '..');

/**
 * The cluster tests need the local cluster (scripts/test-k8s.sh starts it) and the compiled CLI
 * (the deployment test runs `spillway fleet` against the cluster).
 */
export default function globalSetup(): void {
  try {
    execFileSync('bash', [join(root, 'k8s', 'cluster', 'cluster.sh'), 'status'], { stdio: 'pipe' });
  } catch (err) {
    const out = (err as { stdout?: Buffer }).stdout?.toString() ?? '';
    throw new Error(`the local cluster is not running (npm run cluster:up, or npm run test:k8s):\n${out}`);
  }
  execFileSync(
    process.execPath,
    [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'],
    {
      cwd: root,
      stdio: 'inherit',
    },
  );
}
