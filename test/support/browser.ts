// A real browser for the web UI's end-to-end tests: Debian's Chromium driven
// by playwright-core (no browser download). Every page is watched for console
// errors and uncaught exceptions, which a test then asserts there were none of.
// Screenshots go to test-artifacts/web/ (git-ignored).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { repoRoot } from '../../infra/stack/settings';
import { call } from './http';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const ARTIFACTS = path.join(repoRoot, 'test-artifacts', 'web');

/** The front end the web role serves, built if a source is newer than web/dist (as `npm start` does). */
function ensureWebBuilt(): void {
  execFileSync(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'web', 'server', 'build-cli.ts'), '--if-stale'], { cwd: repoRoot, stdio: 'inherit' });
}

export async function launchBrowser(): Promise<Browser> {
  ensureWebBuilt();
  if (!fs.existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: apt-get install chromium (bash .ci/run does), or set CHROMIUM_PATH`);
  // --no-sandbox: CI containers run as root, where Chromium's sandbox cannot start.
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
}

export interface WatchedPage {
  readonly context: BrowserContext;
  readonly page: Page;
  /** Console errors and uncaught exceptions, as text. */
  readonly problems: string[];
}

export const PHONE = { width: 390, height: 844 } as const;
export const DESKTOP = { width: 1280, height: 860 } as const;

/** A new browser context (its own session storage: one person) with one watched page on `url`. */
export async function openPage(browser: Browser, url: string, viewport: { width: number; height: number } = DESKTOP): Promise<WatchedPage> {
  const context = await browser.newContext({ viewport, reducedMotion: 'reduce', locale: 'en-GB', timezoneId: 'UTC' });
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console: ${message.text()}`);
  });
  page.on('pageerror', (error) => problems.push(`exception: ${error.message}`));
  await page.goto(url);
  return { context, page, problems };
}

/** What the person sees (the viewport, not the whole page: the shared menu grows with every run). */
export async function screenshot(page: Page, name: string): Promise<void> {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`) });
}

/** Marks the document so a test can tell later that the page was never reloaded. */
export async function markNoReload(page: Page): Promise<() => Promise<boolean>> {
  // Browser-side code as strings: it runs in the page, not in node.
  await page.evaluate('window.__notReloaded = true');
  return async () => (await page.evaluate('window.__notReloaded === true')) === true;
}

/** Signs a new customer up through the UI; returns when the menu shows. */
export async function signUpCustomer(page: Page, name: string, email: string): Promise<void> {
  await page.getByRole('button', { name: 'Create an account' }).click();
  await page.getByLabel('Your name').fill(name);
  await page.getByLabel('Email').fill(email);
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.getByRole('heading', { name: 'Menu', level: 1 }).waitFor();
}

/** Signs staff in through the UI (the development sign-in's role buttons). */
export async function signInStaff(page: Page, role: 'Kitchen' | 'Courier' | 'Manager'): Promise<void> {
  await page.getByRole('button', { name: role, exact: true }).click();
}

/** Adds a dish through the gateway (as admin): the menu the tests order from. */
export async function addDish(gatewayUrl: string, name: string, category: string, amountMinor: number): Promise<string> {
  const reply = await call(gatewayUrl, 'POST', '/menu/items', { name, description: `${name}, made fresh`, category, price: { amountMinor, currency: 'EUR' } });
  if (reply.status !== 201) throw new Error(`adding ${name} answered ${reply.status}: ${JSON.stringify(reply.body)}`);
  return reply.body.aggregateId as string;
}

/** The order id of the order page the customer is on (#/orders/<id>). */
export function orderIdOf(page: Page): string {
  const match = /#\/orders\/([^/?]+)/.exec(page.url());
  if (match?.[1] === undefined) throw new Error(`not on an order page: ${page.url()}`);
  return decodeURIComponent(match[1]);
}
