import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitForText } from '../helpers/browser';
import { ConsoleStack } from './harness';

/**
 * The console with a tenant's key in a real browser: it lists only that tenant's tasks (live
 * ones too), another tenant's task is not found, and the queue-wide overview and a page whose
 * scope the key lacks say so instead of showing data.
 */
const ACME = 'acme-console-key-0123456789abcdef';
const ACME_READER = 'acme-reader-key-0123456789abcdef';
const GLOBEX = 'globex-console-key-0123456789abcdef';
const KEYS_FILE = [
  'tenant acme',
  'tenant globex',
  `key acme ${ACME} tasks:submit,tasks:read,tasks:cancel,dead-letters:read,dead-letters:replay`,
  `key acme ${ACME_READER} tasks:read`,
  `key globex ${GLOBEX} tasks:submit,tasks:read`,
].join('\n');

describe('console: a tenant key', () => {
  const dir = mkdtempSync(join(tmpdir(), 'spillway-console-tenants-'));
  const file = join(dir, 'api-keys');
  writeFileSync(file, KEYS_FILE);
  let stack: ConsoleStack;

  beforeAll(async () => {
    stack = await ConsoleStack.start({ apiEnv: { API_KEYS_FILE: file } });
  });
  afterEach(() => stack.browser.endTest());
  afterAll(async () => {
    await stack?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("sees only its own tenant's tasks, live ones included", async () => {
    const acme = await stack.submit({ type: 'echo', payload: 'acme' }, ACME);
    const globex = await stack.submit({ type: 'echo', payload: 'globex' }, GLOBEX);
    await stack.finished(acme, ACME);
    await stack.finished(globex, GLOBEX);

    const tab = await stack.browser.signedIn(ACME);
    const { page } = tab;
    // The queue-wide overview is for admin keys; it says so, and still leads to the tasks.
    await tab.heading('Overview').waitFor();
    await page.getByRole('alert').waitFor();
    await tab.checkAccessibility('the overview for a tenant key');
    await tab.navigate('Tasks');
    await waitForText(page.getByTestId(`task-status-${acme}`), 'succeeded');
    expect(await page.getByTestId(`task-row-${globex}`).count()).toBe(0);

    // Live: the other tenant's new task is not shown; this tenant's, submitted after it, is.
    await tab.markDocument();
    const globexLater = await stack.submit({ type: 'echo', payload: 'globex later' }, GLOBEX);
    await stack.finished(globexLater, GLOBEX);
    const acmeLater = await stack.submit({ type: 'echo', payload: 'acme later' }, ACME);
    await waitForText(page.getByTestId(`task-status-${acmeLater}`), 'succeeded');
    expect(await page.getByTestId(`task-row-${globexLater}`).count()).toBe(0);
    expect(await tab.reloaded()).toBe(false);

    // Another tenant's task is not found, even by its id.
    await tab.goto(`tasks/${globex}`);
    await waitForText(page.getByRole('alert'), /not found/i);
    expect(await page.getByText('globex', { exact: false }).count()).toBe(0);
  });

  it('shows a page whose scope the key lacks as refused', async () => {
    const tab = await stack.browser.signedIn(ACME_READER);
    await tab.navigate('Dead letters');
    await tab.page.getByRole('alert').waitFor();
    expect(await tab.page.getByRole('table', { name: 'Dead letters' }).count()).toBe(0);
    await tab.checkAccessibility('a refused page');
  });
});
