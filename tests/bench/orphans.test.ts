import { killParentOf } from '../helpers/orphans';

/**
 * A bench killed outright (SIGKILL, or a pipe closed under it) cannot stop the API and worker
 * processes it started; they must notice and stop themselves, or they load every later run.
 */
describe('bench children', () => {
  it('stop themselves when the bench that started them is killed', async () => {
    expect((await killParentOf('tests/fixtures/bench-parent.ts')).outlived).toBe(false);
  }, 60_000);
});
