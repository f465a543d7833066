import { isDeepStrictEqual } from 'node:util';
import { numberIn, waitForText, type ConsoleTab } from '../helpers/browser';
import { eventually } from '../helpers/stack';
import { ADMIN_KEY, ConsoleStack } from './harness';

/**
 * The overview in a real browser: its numbers are GET /v1/stats' numbers, and during a burst the
 * counts move on their own (rates events), without reloading.
 */
describe('console: overview', () => {
  /** 300 tasks of 100 ms on 6 slots: a burst of about 5 s, several of the 1 s rates events. */
  const BURST = 300;
  let stack: ConsoleStack;

  beforeAll(async () => {
    stack = await ConsoleStack.start({ workerEnv: { WORKER_CONCURRENCY: '6' } });
  });
  afterEach(() => stack.browser.endTest());
  afterAll(() => stack?.stop());

  /** Waits until every number the overview shows is the one GET /v1/stats answers. */
  async function showsStats(tab: ConsoleTab): Promise<void> {
    const cell = (testId: string) => tab.page.getByTestId(testId);
    await eventually(
      async () => {
        const stats = (await stack.call('GET', '/v1/stats')).body;
        const expected: Record<string, number | boolean> = {
          ...stats.counts,
          deadLetters: stats.deadLetters,
          lagTotal: stats.lag.total,
          noneWaiting: stats.oldestWaitingAgeSeconds === null,
        };
        const shown: Record<string, number | boolean> = {};
        for (const status of Object.keys(stats.counts))
          shown[status] = await numberIn(cell(`count-${status}`));
        shown.deadLetters = await numberIn(cell('dead-letter-count'));
        shown.lagTotal = await numberIn(cell('lag-total'));
        shown.noneWaiting = /none/i.test((await cell('oldest-waiting').textContent()) ?? '');
        if (!isDeepStrictEqual(shown, expected)) {
          throw new Error(`shown ${JSON.stringify(shown)}, GET /v1/stats ${JSON.stringify(expected)}`);
        }
        return true;
      },
      15_000,
      'the overview showing GET /v1/stats',
    );
  }

  it('shows the counts GET /v1/stats answers, and follows a burst live', async () => {
    // A task in each of several statuses, and a dead letter.
    await stack.finished(await stack.submit({ type: 'fail', payload: { message: 'no' }, maxAttempts: 1 }));
    await stack.finished(await stack.submit({ type: 'echo', payload: 'done' }));
    await stack.submit({ type: 'echo', payload: 'later', delayMs: 3_600_000 });

    const tab = await stack.browser.signedIn(ADMIN_KEY);
    const { page } = tab;
    await tab.heading('Overview').waitFor();
    await showsStats(tab);
    expect(await numberIn(page.getByTestId('count-failed'))).toBe(1);
    expect(await numberIn(page.getByTestId('dead-letter-count'))).toBe(1);
    await page.getByRole('region', { name: 'Rates' }).locator('canvas').first().waitFor();
    await page.getByRole('region', { name: 'Lag' }).locator('canvas').first().waitFor();
    await page.getByRole('table', { name: 'Lag by partition' }).waitFor();
    // The tests' API is not in a cluster.
    expect((await stack.call('GET', '/v1/fleet')).status).toBe(404);
    await waitForText(page.getByRole('region', { name: 'Fleet' }), 'Not running in a cluster');
    await tab.checkAccessibility('the overview');

    await tab.markDocument();
    const before = await numberIn(page.getByTestId('count-succeeded'));
    await stack.submitBatch(
      Array.from({ length: BURST }, (_, i) => ({ type: 'sleep', payload: { ms: 100, i } })),
    );
    // Values strictly between the start and the end: the count moved while the burst ran.
    const between = new Set<number>();
    let screenshot = false;
    await eventually(
      async () => {
        const n = await numberIn(page.getByTestId('count-succeeded'));
        if (n > before && n < before + BURST) between.add(n);
        // Halfway: the charts and counts mid-burst.
        if (!screenshot && n >= before + BURST / 2 && n < before + BURST) {
          screenshot = true;
          await tab.screenshot('overview');
        }
        return n === before + BURST ? n : undefined;
      },
      60_000,
      `${BURST} more succeeded tasks counted`,
    );
    expect(between.size).toBeGreaterThanOrEqual(2);
    expect(await tab.reloaded()).toBe(false);
    await showsStats(tab);
  });
});
