import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

/**
 * Tests talk to a real Kafka and Redis. `npm test` starts them first; this covers running jest
 * directly. The script returns at once when both already answer.
 */
export default function globalSetup(): void {
  execFileSync('bash', [join(__dirname, '..', 'scripts', 'stack.sh'), 'up'], { stdio: 'inherit' });
}
