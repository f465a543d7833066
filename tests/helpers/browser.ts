import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { AxeResults, ImpactValue, Result } from 'axe-core';
import { chromium, type Browser, type BrowserContext, type Locator, type Page } from 'playwright-core';

/**
 * A real browser for the console's tests: Debian's chromium, which scripts/lib/browser.sh
 * installs, driven by playwright-core. Playwright's own browser download needs hosts this
 * machine cannot reach, so the executable is always given.
 *
 * One browser and one context per test file (`ConsoleBrowser`); each tab (`ConsoleTab`) starts
 * signed out, since the console keeps its key in the tab's sessionStorage. Every tab records its
 * uncaught errors and Content-Security-Policy violations; `endTest` fails the test on any.
 */

const root = join(__dirname, '..', '..');

/** Where scripts/lib/browser.sh installs chromium; CHROMIUM_BIN overrides it in both. */
export const CHROMIUM_BIN = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium';

/** SPILLWAY_CONSOLE_SCREENSHOTS=DIR: tests save their screenshots there (npm run console:screenshots). */
const SCREENSHOT_DIR = process.env.SPILLWAY_CONSOLE_SCREENSHOTS;

const CHROMIUM_ARGS = [
  // Tests run as root, where chromium's sandbox cannot start.
  '--no-sandbox',
  '--disable-gpu',
  // Containers give /dev/shm 64 MiB, which large pages exhaust.
  '--disable-dev-shm-usage',
  // Without these, chromium calls Google hosts (updates, sync, field trials) on its own.
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

/** How long a UI condition may take: live updates arrive within a second or two. */
export const UI_TIMEOUT_MS = 15_000;

/** Screenshots and axe see the same page size every run. */
const VIEWPORT = { width: 1280, height: 860 };

const AXE_SOURCE = join(root, 'node_modules', 'axe-core', 'axe.min.js');
/** Impacts that fail a test; the others are printed. */
const BLOCKING: ReadonlySet<ImpactValue> = new Set(['serious', 'critical']);

/**
 * Reports every CSP violation of the page to the test (the page's own code runs after it). Page
 * code in strings: this project's TypeScript has no DOM types.
 */
const CSP_LISTENER = `document.addEventListener('securitypolicyviolation', (e) => {
  window.__spillwayCspViolation(
    e.effectiveDirective + ' blocked ' + (e.blockedURI || '(inline)') + ' at ' + e.sourceFile + ':' + e.lineNumber,
  );
}, true);`;

/** Resource loads the console makes on purpose and that fail by design (sign-in probe, scopes). */
const EXPECTED_CONSOLE_ERROR = /Failed to load resource: the server responded with a status of 40[134]/;

export class ConsoleBrowser {
  private readonly tabs: ConsoleTab[] = [];
  /** Of closed tabs: printed at the end. */
  private readonly consoleErrors: string[] = [];

  private constructor(
    private readonly browser: Browser,
    private readonly context: BrowserContext,
    private readonly apiUrl: string,
  ) {}

  /** Launches chromium headless with a fresh context for the API at `apiUrl`. */
  static async start(apiUrl: string): Promise<ConsoleBrowser> {
    if (!existsSync(CHROMIUM_BIN)) {
      throw new Error(
        `no chromium at ${CHROMIUM_BIN}: npm test installs it (scripts/lib/browser.sh), or apt-get install chromium`,
      );
    }
    const browser = await chromium.launch({ executablePath: CHROMIUM_BIN, args: CHROMIUM_ARGS });
    const context = await browser.newContext({ viewport: VIEWPORT, locale: 'en-GB', timezoneId: 'UTC' });
    context.setDefaultTimeout(UI_TIMEOUT_MS);
    return new ConsoleBrowser(browser, context, apiUrl);
  }

  /** A new tab on the console (signed out), at `route` (e.g. 'tasks?status=failed'), of this API or another. */
  async open(route = '', apiUrl = this.apiUrl): Promise<ConsoleTab> {
    const tab = await ConsoleTab.create(await this.context.newPage(), apiUrl);
    this.tabs.push(tab);
    await tab.goto(route);
    return tab;
  }

  /** A new tab signed in with `key`, then at `route`. */
  async signedIn(key: string, route = ''): Promise<ConsoleTab> {
    const tab = await this.open();
    await tab.signIn(key);
    if (route) await tab.goto(route);
    return tab;
  }

  /**
   * For afterEach: closes the test's tabs (each holds an event stream), then fails when any had
   * an uncaught error or a CSP violation.
   */
  async endTest(): Promise<void> {
    const problems = this.tabs.flatMap((tab) => tab.takeProblems());
    for (const tab of this.tabs.splice(0)) {
      this.consoleErrors.push(...tab.consoleErrors);
      await tab.page.close().catch(() => undefined);
    }
    if (problems.length > 0) throw new Error(`the console page reported:\n  ${problems.join('\n  ')}`);
  }

  async close(): Promise<void> {
    const unexpected = [...this.consoleErrors, ...this.tabs.flatMap((tab) => tab.consoleErrors)];
    if (unexpected.length > 0) console.log(`console errors in the page:\n  ${unexpected.join('\n  ')}`);
    await this.context.close().catch(() => undefined);
    await this.browser.close();
  }
}

/** One tab of the console, with what it reported. */
export class ConsoleTab {
  /** Uncaught exceptions and unhandled rejections in the page. */
  private pageErrors: string[] = [];
  private cspViolations: string[] = [];
  /** console.error lines other than the expected failed loads; printed, not failing. */
  readonly consoleErrors: string[] = [];
  /** Every request the page made to the API, with the Authorization header it carried. */
  readonly apiRequests: { url: string; authorization: string | undefined }[] = [];

  private constructor(
    readonly page: Page,
    private readonly apiUrl: string,
  ) {}

  static async create(page: Page, apiUrl: string): Promise<ConsoleTab> {
    const tab = new ConsoleTab(page, apiUrl);
    page.on('pageerror', (err) => tab.pageErrors.push(`uncaught: ${err.stack ?? err.message}`));
    page.on('console', (message) => {
      if (message.type() !== 'error') return;
      const text = message.text();
      if (text.includes('Content Security Policy')) tab.cspViolations.push(`CSP (console): ${text}`);
      else if (!EXPECTED_CONSOLE_ERROR.test(text)) tab.consoleErrors.push(text);
    });
    page.on('request', (req) => {
      if (new URL(req.url()).pathname.startsWith('/v1/')) {
        tab.apiRequests.push({ url: req.url(), authorization: req.headers().authorization });
      }
    });
    // Installed through the debugger before any page script: the page's CSP does not apply to it.
    await page.exposeBinding('__spillwayCspViolation', (_source, text: string) => {
      tab.cspViolations.push(`CSP: ${text}`);
    });
    await page.addInitScript({ content: CSP_LISTENER });
    return tab;
  }

  /** Loads the console at a hash route; '' is the default route. */
  async goto(route = ''): Promise<void> {
    await this.page.goto(`${this.apiUrl}/console/${route ? `#/${route}` : ''}`);
  }

  /** Fills the sign-in form with `key` and sends it. */
  async submitKey(key: string): Promise<void> {
    await this.page.getByLabel('API key').fill(key);
    await this.page.getByRole('button', { name: 'Sign in' }).click();
  }

  /** Signs in through the form and waits for the app's navigation. */
  async signIn(key: string): Promise<void> {
    await this.submitKey(key);
    await this.navigation().waitFor();
  }

  navigation(): Locator {
    return this.page.getByRole('navigation', { name: 'Console' });
  }

  /** Follows a link of the header's navigation and waits for the page's heading. */
  async navigate(link: 'Overview' | 'Tasks' | 'Dead letters'): Promise<void> {
    await this.navigation().getByRole('link', { name: link, exact: true }).click();
    await this.heading(link).waitFor();
  }

  heading(name: string): Locator {
    return this.page.getByRole('heading', { name, exact: true });
  }

  /** The route part of the URL: `#/tasks?status=failed` → { path: 'tasks', query }. */
  route(): { path: string; query: URLSearchParams } {
    const hash = new URL(this.page.url()).hash.replace(/^#\/?/, '');
    const [path = '', query = ''] = hash.split('?', 2);
    return { path, query: new URLSearchParams(query) };
  }

  /**
   * Marks the document, so `reloaded()` tells whether it was loaded again since: live updates
   * must arrive without one.
   */
  async markDocument(): Promise<void> {
    await this.page.evaluate('window.__spillwayMark = true');
  }

  async reloaded(): Promise<boolean> {
    return (await this.page.evaluate('!window.__spillwayMark')) === true;
  }

  /**
   * Runs axe-core on the page as it is now. Serious and critical violations fail; the others are
   * printed. The console's CSP forbids inline script, which is what addScriptTag injects even
   * from a file, so axe's source is evaluated through the debugger protocol instead, which the
   * page's CSP does not govern (and no CSP bypass is needed).
   */
  async checkAccessibility(what: string): Promise<Result[]> {
    if ((await this.page.evaluate("'axe' in window")) !== true) {
      await this.page.evaluate(readFileSync(AXE_SOURCE, 'utf8'));
    }
    const results = await this.page.evaluate<AxeResults>(
      "axe.run(document, { resultTypes: ['violations'] })",
    );
    const describe = (v: Result) =>
      `${v.impact} ${v.id}: ${v.help} (${v.nodes.length}: ${v.nodes
        .slice(0, 3)
        .map((n) => n.target.join(' '))
        .join(', ')})`;
    const blocking = results.violations.filter((v) => BLOCKING.has(v.impact ?? null));
    const others = results.violations.filter((v) => !BLOCKING.has(v.impact ?? null));
    if (others.length > 0)
      console.log(`axe on ${what}, not blocking:\n  ${others.map(describe).join('\n  ')}`);
    if (blocking.length > 0) {
      throw new Error(
        `axe on ${what}: serious or critical violations:\n  ${blocking.map(describe).join('\n  ')}`,
      );
    }
    return results.violations;
  }

  /** Saves a screenshot as DIR/<name>.png when SPILLWAY_CONSOLE_SCREENSHOTS=DIR is set. */
  async screenshot(name: string): Promise<void> {
    if (!SCREENSHOT_DIR) return;
    const dir = resolve(root, SCREENSHOT_DIR);
    mkdirSync(dir, { recursive: true });
    await this.page.screenshot({ path: join(dir, `${name}.png`), fullPage: true, animations: 'disabled' });
  }

  /** What went wrong since the last call (uncaught errors, CSP violations), cleared. */
  takeProblems(): string[] {
    const problems = [...this.pageErrors, ...this.cspViolations];
    this.pageErrors = [];
    this.cspViolations = [];
    return problems;
  }
}

/** Waits until `locator` (one element) shows `text`; the error names what it showed instead. */
export async function waitForText(
  locator: Locator,
  text: string | RegExp,
  timeoutMs = UI_TIMEOUT_MS,
): Promise<void> {
  try {
    await locator.filter({ hasText: text }).first().waitFor({ timeout: timeoutMs });
  } catch (err) {
    const shown = await locator
      .first()
      .textContent({ timeout: 1000 })
      .catch(() => '(no such element)');
    throw new Error(
      `expected ${String(text)} within ${timeoutMs} ms, the page shows ${JSON.stringify(shown)}`,
      {
        cause: err,
      },
    );
  }
}

/** The number an element shows ("1,234" → 1234); NaN when it shows none. */
export async function numberIn(locator: Locator): Promise<number> {
  const text = (await locator.textContent()) ?? '';
  const digits = text.replace(/[\s,\u202f\u00a0]/g, '').match(/\d+/);
  return digits ? Number(digits[0]) : NaN;
}
