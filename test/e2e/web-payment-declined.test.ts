/**
 * The web UI when the payment is declined: the payment simulator declines
 * every payment here, and the customer, watching the order page, sees it
 * rejected with the reason, without reloading.
 */
import type { Browser } from 'playwright-core';
import { unique } from '../support/kafka';
import { startRole, type RoleProcess } from '../../app/chaos/role-process';
import { addDish, launchBrowser, markNoReload, openPage, orderIdOf, screenshot, signUpCustomer, type WatchedPage } from '../support/browser';

jest.setTimeout(240_000);

const run = unique('web-declined');
const SOUP = `Soup ${run}`;
let stack: RoleProcess;
let browser: Browser;
let customer: WatchedPage;

beforeAll(async () => {
  [stack, browser] = await Promise.all([
    startRole('all', {
      PAYMENT_SIMULATOR_DECLINE_SHARE: '1',
      PAYMENT_SIMULATOR_STALL_SHARE: '0',
      PAYMENT_SIMULATOR_ANSWER_DELAY_MS: '300-600',
    }),
    launchBrowser(),
  ]);
  await addDish(stack.url, SOUP, 'STARTER', 650);
});

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
});

it('a declined payment rejects the order, and the customer sees why', async () => {
  customer = await openPage(browser, stack.webUrl);
  const c = customer.page;
  await signUpCustomer(c, 'Grace Hopper', `${run}@example.com`);
  await c.getByRole('button', { name: 'Start an order' }).click();
  await c.locator(`li[data-menu-item="${SOUP}"]`).getByRole('button', { name: `Add ${SOUP} to the order` }).click();
  await c.getByTestId('order-total').getByText('€6.50').waitFor();
  await c.getByLabel('Street and number').fill('Kalverstraat 10');
  await c.getByLabel('Postal code').fill('1012 PC');
  await c.getByLabel('City').fill('Amsterdam');
  await c.getByLabel('Country code (e.g. NL)').fill('NL');
  await c.getByRole('button', { name: 'Deliver here' }).click();
  await c.getByTestId('delivery-address').waitFor();
  await c.getByRole('button', { name: 'Place order' }).click();
  await c.locator('.timeline [data-step="placed"][data-state="done"]').waitFor();
  expect(orderIdOf(c)).toEqual(expect.any(String));
  const notReloaded = await markNoReload(c);

  // The decline arrives on the open page: the payment step failed, the order rejected, the reason in words.
  await c.locator('.timeline [data-step="payment"][data-state="failed"]').waitFor({ timeout: 20_000 });
  const rejected = c.locator('.timeline [data-step="rejected"][data-state="failed"]');
  await rejected.waitFor();
  expect(await rejected.textContent()).toMatch(/payment declined: \S+/);
  expect(await c.getByTestId('order-status').textContent()).toMatch(/^Rejected: payment declined: \S+/);
  // A rejected order offers no tasks.
  expect(await c.getByRole('button', { name: /Cancel order/ }).count()).toBe(0);
  expect(await notReloaded()).toBe(true);
  await screenshot(c, 'payment-declined');
  expect(customer.problems).toEqual([]);
});
