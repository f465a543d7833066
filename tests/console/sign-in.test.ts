import { waitForText } from '../helpers/browser';
import { apiFor } from '../helpers/services';
import { ADMIN_KEY, ConsoleStack } from './harness';

/**
 * Signing in to the console in a real browser: a wrong key is refused with an alert, the right
 * one opens the app, and the key travels only in the Authorization header and stays in the tab
 * (never a cookie, never the URL).
 */
describe('console: sign-in', () => {
  let stack: ConsoleStack;

  beforeAll(async () => {
    stack = await ConsoleStack.start();
  });
  afterEach(() => stack.browser.endTest());
  afterAll(() => stack?.stop());

  it('serves the console at /console with its security headers', async () => {
    const res = await fetch(`${stack.api.url}/console`, { redirect: 'manual' });
    expect([301, 302, 307, 308]).toContain(res.status);
    expect(new URL(res.headers.get('location')!, stack.api.url).pathname).toBe('/console/');
    const page = await fetch(`${stack.api.url}/console/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    const csp = page.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain('unsafe-inline');
  });

  it('refuses a wrong key with an alert, then signs in with the right one and out again', async () => {
    const tab = await stack.browser.open();
    const { page } = tab;
    await page.getByRole('heading', { name: 'Spillway console' }).waitFor();
    expect(await page.getByLabel('API key').getAttribute('type')).toBe('password');
    await tab.checkAccessibility('the sign-in view');
    await tab.screenshot('sign-in');

    await tab.submitKey('not-the-key-0123456789');
    await waitForText(page.getByRole('alert'), 'not accepted');
    expect(await tab.navigation().count()).toBe(0);

    await tab.signIn(ADMIN_KEY);
    await tab.heading('Overview').waitFor();
    await tab.checkAccessibility('the overview after sign-in');

    // The key went in the Authorization header of API calls, and nowhere the browser keeps it.
    const sent = tab.apiRequests.filter((r) => r.authorization === `Bearer ${ADMIN_KEY}`);
    expect(sent.length).toBeGreaterThan(0);
    expect(tab.apiRequests.filter((r) => r.url.includes(ADMIN_KEY))).toEqual([]);
    expect(page.url()).not.toContain(ADMIN_KEY);
    expect(await page.context().cookies()).toEqual([]);
    expect(await page.evaluate<string>('JSON.stringify(localStorage)')).not.toContain(ADMIN_KEY);
    expect(await page.evaluate<string>('JSON.stringify(sessionStorage)')).toContain(ADMIN_KEY);

    // Another tab has its own sessionStorage: it starts signed out.
    const other = await stack.browser.open();
    await other.page.getByLabel('API key').waitFor();
    await other.page.close();

    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('API key').waitFor();
    expect(await page.evaluate<string>('JSON.stringify(sessionStorage)')).not.toContain(ADMIN_KEY);
    await page.close();
  });

  it('opens without a key when the API has auth off (npm run dev)', async () => {
    const open = await apiFor(stack.queue);
    try {
      const tab = await stack.browser.open('', open.url);
      await tab.heading('Overview').waitFor();
      await tab.navigate('Tasks');
      expect(await tab.page.getByLabel('API key').count()).toBe(0);
      expect(tab.apiRequests.filter((r) => r.authorization !== undefined)).toEqual([]);
      await tab.page.close();
    } finally {
      await open.stop();
    }
  });
});
