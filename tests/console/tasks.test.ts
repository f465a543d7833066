import { HandlerRegistry } from '../../services/worker/handlers';
import { UI_TIMEOUT_MS, waitForText } from '../helpers/browser';
import { handlersWith } from '../helpers/services';
import { eventually } from '../helpers/stack';
import { ADMIN_KEY, ConsoleStack } from './harness';

/**
 * The Tasks pages in a real browser against the real API, Kafka, Redis and worker: tasks
 * submitted through the API appear live, failed ones are found by their error text, a task's
 * attempts are listed, and a running task is cancelled from its page.
 */

/** Tasks whose `sleep` handler saw its signal aborted, with the reason. */
const aborted = new Map<string, unknown>();

/** The demo handlers, with `sleep` watched: a cancellation must reach the running handler. */
function handlersWithWatchedSleep(): HandlerRegistry {
  const demo = handlersWith({});
  const registry = new HandlerRegistry();
  for (const type of demo.types()) {
    const handler = demo.get(type)!;
    registry.register(
      type,
      type !== 'sleep'
        ? handler
        : async (payload, ctx) => {
            try {
              return await handler(payload, ctx);
            } finally {
              if (ctx.signal.aborted) aborted.set(ctx.taskId, ctx.signal.reason);
            }
          },
    );
  }
  return registry;
}

describe('console: tasks', () => {
  let stack: ConsoleStack;

  beforeAll(async () => {
    stack = await ConsoleStack.start({ handlers: handlersWithWatchedSleep() });
  });
  afterEach(() => stack.browser.endTest());
  afterAll(() => stack?.stop());

  const rowsOf = (tab: { page: import('playwright-core').Page }) =>
    tab.page.getByRole('table', { name: 'Tasks' }).locator('[data-testid^="task-row-"]');

  it('shows tasks submitted through the API as they arrive, without reloading', async () => {
    const tab = await stack.browser.signedIn(ADMIN_KEY);
    await tab.navigate('Tasks');
    expect(await tab.page.getByRole('checkbox', { name: 'Live' }).isChecked()).toBe(true);
    await tab.markDocument();

    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push(await stack.submit({ type: 'echo', payload: { n: i } }));
    for (const id of ids) {
      await tab.page.getByTestId(`task-row-${id}`).waitFor();
      await waitForText(tab.page.getByTestId(`task-status-${id}`), 'succeeded');
    }
    expect(await tab.reloaded()).toBe(false);
    // New tasks come in at the top, the newest first.
    const shown = await rowsOf(tab).evaluateAll((rows) => rows.map((r) => r.getAttribute('data-testid')));
    expect(shown.slice(0, 3)).toEqual(ids.map((id) => `task-row-${id}`).reverse());
    await tab.page.getByRole('link', { name: ids[0]!, exact: true }).waitFor();
  });

  it('finds failed tasks by their error text, the filter kept in the URL', async () => {
    const messages = [
      'disk quota exceeded on volume 1',
      'disk quota exceeded on volume 2',
      'connection reset',
    ];
    const ids = await Promise.all(
      messages.map((message) => stack.submit({ type: 'fail', payload: { message }, maxAttempts: 1 })),
    );
    for (const id of ids) expect((await stack.finished(id)).status).toBe('failed');
    const [quota1, quota2, reset] = ids as [string, string, string];

    const tab = await stack.browser.signedIn(ADMIN_KEY);
    await tab.navigate('Tasks');
    const filter = tab.page.getByRole('search').or(tab.page.getByRole('form', { name: 'Filter tasks' }));
    await filter.getByLabel('Status').selectOption('failed');
    await filter.getByLabel('Error text').fill('QUOTA');
    await filter.getByRole('button', { name: 'Apply' }).click();

    await eventually(
      async () => (tab.route().query.get('q') === 'QUOTA' ? true : undefined),
      5000,
      'q in the hash',
    );
    expect(tab.route().path).toBe('tasks');
    expect(tab.route().query.get('status')).toBe('failed');
    await waitForText(tab.page.getByTestId(`task-row-${quota1}`), 'disk quota exceeded on volume 1');
    await waitForText(tab.page.getByTestId(`task-row-${quota2}`), 'disk quota exceeded on volume 2');
    expect(await rowsOf(tab).count()).toBe(2);
    expect(await tab.page.getByTestId(`task-row-${reset}`).count()).toBe(0);
    await tab.checkAccessibility('the tasks page, filtered');
    await tab.screenshot('tasks');

    // Loaded again from its URL, the page shows the same filter and the same tasks.
    await tab.page.reload();
    await tab.page.getByTestId(`task-row-${quota1}`).waitFor();
    expect(await rowsOf(tab).count()).toBe(2);
    expect(await filter.getByLabel('Status').inputValue()).toBe('failed');

    // Nothing matches: the page says so.
    await filter.getByLabel('Error text').fill('no task failed like this');
    await filter.getByRole('button', { name: 'Apply' }).click();
    await tab.page.getByText('No tasks match').waitFor();
  });

  it('opens a task from the list and shows each of its attempts', async () => {
    const id = await stack.submit({ type: 'fail', payload: { message: 'attempts tracker' }, maxAttempts: 3 });
    const record = await stack.finished(id);
    expect(record).toMatchObject({ status: 'failed', attempts: 3 });

    const tab = await stack.browser.signedIn(ADMIN_KEY, 'tasks?q=attempts%20tracker');
    await tab.heading('Tasks').waitFor();
    await tab.page.getByRole('link', { name: id, exact: true }).click();
    await tab.heading(`Task ${id}`).waitFor();
    expect(tab.route().path).toBe(`tasks/${id}`);
    await waitForText(tab.page.getByTestId('task-status'), 'failed');

    const attempts = tab.page.getByRole('list', { name: 'Attempts' }).getByRole('listitem');
    await eventually(async () => ((await attempts.count()) === 3 ? true : undefined), 5000, 'three attempts');
    for (let n = 1; n <= 3; n++) {
      const item = attempts.nth(n - 1);
      await waitForText(item, `Attempt ${n}`, 1000);
      await waitForText(item, 'attempts tracker', 1000);
    }
    for (const section of ['Payload', 'Result', 'Error', 'Progress', 'Attempts', 'Callback']) {
      await tab.heading(section).waitFor();
    }
    await tab.checkAccessibility('the task page');
    await tab.screenshot('task-detail');

    // The curl command names the key's variable, never the key.
    await tab.page.getByRole('button', { name: 'Copy as curl' }).click();
    const curl = tab.page.getByLabel('curl command');
    await waitForText(curl, '$SPILLWAY_API_KEY');
    expect(await curl.textContent()).not.toContain(ADMIN_KEY);
    expect(await tab.page.getByRole('button', { name: 'Cancel task' }).count()).toBe(0);

    // Run again: a new task, whose page links back to this one.
    await tab.page.getByRole('button', { name: 'Run again' }).click();
    await eventually(
      async () =>
        /^tasks\/[0-9a-f-]{36}$/.test(tab.route().path) && !tab.route().path.endsWith(id) ? true : undefined,
      UI_TIMEOUT_MS,
      "the new task's page",
    );
    const rerun = tab.route().path.slice('tasks/'.length);
    await tab.heading(`Task ${rerun}`).waitFor();
    await waitForText(tab.page.getByText('Re-run of'), id);
    expect((await stack.finished(rerun)).replayOf).toBe(id);
    await tab.page.getByRole('link', { name: id, exact: true }).click();
    await tab.heading(`Task ${id}`).waitFor();
  });

  it('pages through a long list with Load more', async () => {
    const ids = await stack.submitBatch(
      Array.from({ length: 55 }, (_, i) => ({ type: 'echo', payload: i, key: `pager-${i}` })),
    );
    await Promise.all(ids.map((id) => stack.finished(id)));
    const tab = await stack.browser.signedIn(ADMIN_KEY, 'tasks?key=pager-');
    await tab.heading('Tasks').waitFor();
    await eventually(
      async () => ((await rowsOf(tab).count()) === 50 ? true : undefined),
      UI_TIMEOUT_MS,
      '50 rows',
    );
    await tab.page.getByRole('button', { name: 'Load more' }).click();
    await eventually(
      async () => ((await rowsOf(tab).count()) === 55 ? true : undefined),
      UI_TIMEOUT_MS,
      '55 rows',
    );
    await tab.page.getByRole('button', { name: 'Load more' }).waitFor({ state: 'detached' });
    const shown = await rowsOf(tab).evaluateAll((rows) => rows.map((r) => r.getAttribute('data-testid')));
    expect(new Set(shown)).toEqual(new Set(ids.map((id) => `task-row-${id}`)));
  });

  it('cancels a running task from its page, stopping its handler', async () => {
    const id = await stack.submit({ type: 'sleep', payload: { ms: 60_000 } });
    await eventually(
      async () => {
        const res = await stack.call('GET', `/v1/tasks/${id}`);
        return res.body.status === 'running' ? true : undefined;
      },
      20_000,
      'the sleep task running',
    );

    const tab = await stack.browser.signedIn(ADMIN_KEY, `tasks/${id}`);
    await tab.heading(`Task ${id}`).waitFor();
    await waitForText(tab.page.getByTestId('task-status'), 'running');
    const dialog = tab.page.getByRole('dialog').filter({ hasText: 'Cancel this task?' });

    // Keeping it running changes nothing.
    await tab.page.getByRole('button', { name: 'Cancel task', exact: true }).click();
    await dialog.waitFor();
    await tab.checkAccessibility('the cancel dialog');
    await dialog.getByRole('button', { name: 'Keep running' }).click();
    await dialog.waitFor({ state: 'hidden' });
    expect((await stack.call('GET', `/v1/tasks/${id}`)).body.status).toBe('running');

    await tab.page.getByRole('button', { name: 'Cancel task', exact: true }).click();
    await dialog.getByRole('button', { name: 'Cancel task', exact: true }).click();
    await waitForText(tab.page.getByTestId('task-status'), 'cancelled');
    expect((await stack.call('GET', `/v1/tasks/${id}`)).body.status).toBe('cancelled');
    await eventually(async () => (aborted.has(id) ? true : undefined), 10_000, 'the handler aborted');
    await tab.page.getByRole('button', { name: 'Cancel task', exact: true }).waitFor({ state: 'detached' });
  });
});
