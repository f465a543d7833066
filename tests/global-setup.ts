import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { TEST_RUN_ENV } from './helpers/stack';

const root = join(__dirname, '..');

/**
 * Tests talk to a real Kafka and Redis, and the end-to-end tests run the compiled services.
 * `stack.sh up` returns at once when both servers already answer; the build is incremental (the
 * console's bundle takes well under a second).
 */
export default function globalSetup(): void {
  // Test workers start after this and inherit it; the teardown reads it back.
  process.env[TEST_RUN_ENV] = Date.now().toString(36);
  execFileSync('bash', [join(root, 'scripts', 'stack.sh'), 'up'], { stdio: 'inherit' });
  execFileSync(
    process.execPath,
    [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'],
    {
      cwd: root,
      stdio: 'inherit',
    },
  );
  // The API serves the web console from dist/console (tests/integration/console-serving.test.ts).
  execFileSync(process.execPath, [join(root, 'services', 'api', 'console', 'build.mjs')], {
    cwd: root,
    stdio: 'inherit',
  });
}
