import { kafkaNames } from '../../services/shared/kafka/names';
import { waitForText } from '../helpers/browser';
import { produce } from '../helpers/kafka';
import { handlersWith } from '../helpers/services';
import { eventually } from '../helpers/stack';
import { ADMIN_KEY, ConsoleStack } from './harness';

/**
 * The Dead letters page in a real browser: tasks that died while a dependency was down are
 * replayed in bulk, filtered by type, after a dialog that says how many; the replays succeed.
 */
describe('console: dead letters', () => {
  /** The `gate` tasks fail until it opens, as if a service they call were down. */
  let gateOpen = false;
  let stack: ConsoleStack;
  const gated: string[] = [];
  let other: string;

  beforeAll(async () => {
    stack = await ConsoleStack.start({
      handlers: handlersWith({
        gate: async (payload) => {
          if (!gateOpen) throw new Error('the payment service is unavailable');
          return payload;
        },
      }),
    });
    for (let i = 0; i < 4; i++)
      gated.push(await stack.submit({ type: 'gate', payload: { n: i }, maxAttempts: 1 }));
    other = await stack.submit({ type: 'fail', payload: { message: 'stays dead' }, maxAttempts: 1 });
    await eventually(
      async () => {
        const page = await stack.call('GET', '/v1/dead-letters');
        return page.body.items.length === 5 ? true : undefined;
      },
      30_000,
      'five dead letters',
    );
  });
  afterEach(() => stack.browser.endTest());
  afterAll(() => stack?.stop());

  const replayedAs = async (): Promise<Map<string, string | null>> => {
    const page = await stack.call('GET', '/v1/dead-letters');
    return new Map(
      (page.body.items as { id: string; replayedAs: string | null }[]).map((d) => [d.id, d.replayedAs]),
    );
  };

  it('replays the matching dead letters after confirming how many, and the replays succeed', async () => {
    const tab = await stack.browser.signedIn(ADMIN_KEY);
    await tab.navigate('Dead letters');
    const { page } = tab;
    for (const id of [...gated, other]) await page.getByTestId(`dead-letter-row-${id}`).waitFor();
    await waitForText(page.getByTestId(`dead-letter-row-${gated[0]}`), 'the payment service is unavailable');

    await page.getByLabel('Type').fill('gate');
    await page.getByRole('button', { name: 'Apply' }).click();
    await page.getByTestId(`dead-letter-row-${other}`).waitFor({ state: 'detached' });
    for (const id of gated) await page.getByTestId(`dead-letter-row-${id}`).waitFor();
    await tab.checkAccessibility('the dead letters page');

    // Cancelled: nothing is replayed.
    const dialog = page.getByRole('dialog');
    await page.getByRole('button', { name: 'Replay matching' }).click();
    await waitForText(dialog, 'Replay 4 dead letters?');
    await dialog.getByRole('button', { name: 'Cancel', exact: true }).click();
    await dialog.waitFor({ state: 'hidden' });
    expect([...(await replayedAs()).values()]).toEqual([null, null, null, null, null]);

    await page.getByRole('button', { name: 'Replay matching' }).click();
    await waitForText(dialog, 'Replay 4 dead letters?');
    await tab.checkAccessibility('the replay dialog');
    await tab.screenshot('dead-letters');
    gateOpen = true;
    await dialog.getByRole('button', { name: 'Replay 4', exact: true }).click();
    await waitForText(page.getByRole('status'), 'Replayed 4');

    const replays = await replayedAs();
    expect(replays.get(other)).toBeNull();
    for (const id of gated) {
      const taskId = replays.get(id);
      expect(taskId).toEqual(expect.any(String));
      expect((await stack.finished(taskId!)).status).toBe('succeeded');
      // The table, reloaded, shows what each was replayed as.
      await waitForText(page.getByTestId(`dead-letter-row-${id}`), taskId!);
    }
  });

  it('shows a poison message as it came, and discards the matching letters', async () => {
    await produce(kafkaNames(stack.queue).tasksTopic, [{ value: '{not a task' }]);
    const tab = await stack.browser.signedIn(ADMIN_KEY);
    await tab.navigate('Dead letters');
    const { page } = tab;
    await page.getByLabel('Reason').selectOption('poison');
    await page.getByRole('button', { name: 'Apply' }).click();
    const poison = page.locator('[data-testid^="dead-letter-row-poison:"]');
    await waitForText(poison.locator('pre'), '{not a task');
    expect(await page.locator('[data-testid^="dead-letter-row-"]').count()).toBe(1);

    await page.getByLabel('Reason').selectOption({ label: 'any' });
    await page.getByLabel('Type').fill('fail');
    await page.getByRole('button', { name: 'Apply' }).click();
    await page.getByTestId(`dead-letter-row-${gated[0]}`).waitFor({ state: 'detached' });
    await page.getByTestId(`dead-letter-row-${other}`).waitFor();
    await page.getByRole('button', { name: 'Discard matching' }).click();
    const dialog = page.getByRole('dialog');
    await waitForText(dialog, /Discard 1 dead letters?\?/);
    await dialog.getByRole('button', { name: 'Discard 1', exact: true }).click();
    await waitForText(page.getByRole('status'), 'Discarded 1');
    await page.getByTestId(`dead-letter-row-${other}`).waitFor({ state: 'detached' });
    expect((await replayedAs()).has(other)).toBe(false);
    expect((await replayedAs()).size).toBe(5);
  });
});
