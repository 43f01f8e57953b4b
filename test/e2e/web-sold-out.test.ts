/**
 * The manager's menu management in the web UI, and what a customer's open
 * menu page makes of it: a dish the manager marks sold out shows as sold out
 * on the customer's page within a second of the manager's screen showing it,
 * with no way left to add it; marked available again, it can be ordered
 * again. The customer's page runs at phone width, without sideways scrolling.
 */
import type { Browser } from 'playwright-core';
import { unique } from '../support/kafka';
import { freePort, startRole, type RoleProcess } from '../../app/chaos/role-process';
import { launchBrowser, markNoReload, openPage, PHONE, screenshot, signInStaff, signUpCustomer, type WatchedPage } from '../support/browser';

jest.setTimeout(240_000);

const run = unique('web-menu');
const TART = `Tart ${run}`;
let stack: RoleProcess;
let browser: Browser;
const pages: WatchedPage[] = [];

beforeAll(async () => {
  [stack, browser] = await Promise.all([startRole('all'), launchBrowser()]);
});

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
});

it('a manager adds a dish and marks it sold out; an open customer page shows it unavailable within a second', async () => {
  const [manager, customer] = await Promise.all([openPage(browser, stack.webUrl), openPage(browser, stack.webUrl, PHONE)]);
  pages.push(manager, customer);
  const m = manager.page;
  const c = customer.page;

  // The manager adds the dish through the UI.
  await signInStaff(m, 'Manager');
  await m.getByRole('heading', { name: 'Menu management' }).waitFor();
  const form = m.getByRole('form', { name: 'Add a dish' });
  await form.getByLabel('Name').fill(TART);
  await form.getByLabel('Description').fill('Apple, cinnamon');
  await form.getByLabel('Category').selectOption('DESSERT');
  await form.getByLabel('Price (EUR)').fill('6.5');
  await form.getByRole('button', { name: 'Add to the menu' }).click();
  const row = m.locator(`tr[data-menu-item="${TART}"]`);
  await row.waitFor();
  await row.getByText('€6.50').waitFor();

  // The customer has the menu open with an order started.
  await signUpCustomer(c, 'Alan Turing', `${run}@example.com`);
  await c.getByRole('button', { name: 'Start an order' }).click();
  const card = c.locator(`li[data-menu-item="${TART}"]`);
  await card.getByRole('button', { name: `Add ${TART} to the order` }).waitFor();
  const notReloaded = await markNoReload(c);
  expect(await c.evaluate('document.documentElement.scrollWidth <= window.innerWidth')).toBe(true);

  await row.getByRole('button', { name: `Mark ${TART} sold out` }).click();
  await row.getByText('Sold out').waitFor();
  await row.scrollIntoViewIfNeeded();
  await screenshot(m, 'manager-menu');
  // From the manager's screen showing it, the customer's page has a second.
  const shownAt = Date.now();
  await card.getByText('Sold out').waitFor({ timeout: 1000 });
  const lagMs = Date.now() - shownAt;
  expect(lagMs).toBeLessThanOrEqual(1000);
  expect(await card.getByRole('button', { name: `Add ${TART} to the order` }).count()).toBe(0);
  await card.scrollIntoViewIfNeeded();
  await screenshot(c, 'customer-menu-phone');

  // Available again: the customer can add it again, still without a reload.
  await row.getByRole('button', { name: `Mark ${TART} available` }).click();
  await card.getByRole('button', { name: `Add ${TART} to the order` }).waitFor({ timeout: 5000 });
  expect(await notReloaded()).toBe(true);
});

it('a stale task is refused with a readable message, and the screen refreshes', async () => {
  // The stale screen is served by a web role of its own, which the test can cut off and start again on the same port (the same origin).
  const port = await freePort();
  const webEnv = { WEB_PORT: String(port), WEB_GATEWAY_URL: stack.url, WEB_QUERY_URL: stack.queryUrl };
  let web = await startRole('web', webEnv);
  try {
    const [first, second] = await Promise.all([openPage(browser, stack.webUrl), openPage(browser, `http://127.0.0.1:${port}`)]);
    pages.push(first);
    const name = `Stale ${run}`;
    await signInStaff(first.page, 'Manager');
    const form = first.page.getByRole('form', { name: 'Add a dish' });
    await form.getByLabel('Name').fill(name);
    await form.getByLabel('Price (EUR)').fill('3');
    await form.getByRole('button', { name: 'Add to the menu' }).click();
    await signInStaff(second.page, 'Manager');
    const rowOnSecond = second.page.locator(`tr[data-menu-item="${name}"]`);
    await rowOnSecond.waitFor();

    // The second screen loses its live connection, and cannot get it back for now, while the first removes the dish.
    await second.page.route('**/api/query/live/**', (route) => route.abort());
    await web.kill();
    first.page.once('dialog', (dialog) => void dialog.accept());
    const rowOnFirst = first.page.locator(`tr[data-menu-item="${name}"]`);
    await rowOnFirst.getByRole('button', { name: `Remove ${name} from the menu` }).click();
    await rowOnFirst.waitFor({ state: 'detached' });
    web = await startRole('web', webEnv);

    // The stale screen still offers a task on the removed dish; the decider refuses it with a 409.
    await rowOnSecond.getByRole('button', { name: `Mark ${name} sold out` }).click();
    await second.page.getByRole('alert').filter({ hasText: 'That could not be done any more: the menu item was removed from the menu' }).waitFor();
    await screenshot(second.page, 'stale-task');
    // Once the live connection is back, the screen shows the dish gone.
    await second.page.unroute('**/api/query/live/**');
    await rowOnSecond.waitFor({ state: 'detached', timeout: 15_000 });
    // The only errors on that page are the browser's reports of the requests that failed on purpose (cut off, refused, 409).
    expect(second.problems.filter((p) => !/^console: Failed to load resource: (net::ERR_|the server responded with a status of 409)/.test(p))).toEqual([]);
  } finally {
    await web.kill();
  }
});

it('no page logged a console error or threw', () => {
  expect(pages.length).toBe(3);
  expect(pages.flatMap((p) => p.problems)).toEqual([]);
});
