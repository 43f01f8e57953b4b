/**
 * The web UI end to end, in Debian's Chromium against every role of the real
 * stack: a customer signs up, orders two dishes and pays; the kitchen board
 * (open all along, never reloaded) shows the order appear by itself, with its
 * waiting time ticking, and prepares it; the courier delivers it; and the
 * customer's timeline shows each step as it happens — three people in three
 * browser contexts at once. Then the customer's past orders and the manager's
 * sales. No page logs a console error.
 */
import type { Browser, Page } from 'playwright-core';
import { unique } from '../support/kafka';
import { waitFor } from '../../infra/wait-for';
import { startRole, type RoleProcess } from '../../app/chaos/role-process';
import { addDish, launchBrowser, markNoReload, openPage, orderIdOf, screenshot, signInStaff, signUpCustomer, type WatchedPage } from '../support/browser';

jest.setTimeout(240_000);

const run = unique('web');
const PIZZA = `Pizza ${run}`;
const SALAD = `Salad ${run}`;
let stack: RoleProcess;
let browser: Browser;
const pages: WatchedPage[] = [];

beforeAll(async () => {
  [stack, browser] = await Promise.all([
    startRole('all', {
      PAYMENT_SIMULATOR_DECLINE_SHARE: '0',
      PAYMENT_SIMULATOR_STALL_SHARE: '0',
      PAYMENT_SIMULATOR_ANSWER_DELAY_MS: '20-200',
    }),
    launchBrowser(),
  ]);
  await addDish(stack.url, PIZZA, 'MAIN', 1250);
  await addDish(stack.url, SALAD, 'STARTER', 800);
});

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
});

/** Waits until the customer's timeline shows `step` as done. */
const stepDone = (page: Page, step: string): Promise<unknown> => page.locator(`.timeline [data-step="${step}"][data-state="done"]`).waitFor({ timeout: 20_000 });

it('a customer orders and pays, the kitchen prepares it, the courier delivers it, and the customer watches it happen', async () => {
  const [customer, kitchen, courier] = await Promise.all([openPage(browser, stack.webUrl), openPage(browser, stack.webUrl), openPage(browser, stack.webUrl)]);
  pages.push(customer, kitchen, courier);
  await screenshot(customer.page, 'sign-in');

  // Staff are at their screens before the order exists.
  await signInStaff(kitchen.page, 'Kitchen');
  await kitchen.page.getByRole('heading', { name: 'Kitchen board' }).waitFor();
  await signInStaff(courier.page, 'Courier');
  await courier.page.getByRole('heading', { name: 'Deliveries' }).waitFor();
  const kitchenNotReloaded = await markNoReload(kitchen.page);
  const courierNotReloaded = await markNoReload(courier.page);

  // The customer signs up and fills an order: two pizzas and a salad.
  const c = customer.page;
  await signUpCustomer(c, 'Ada Lovelace', `${run}@example.com`);
  await c.getByRole('button', { name: 'Start an order' }).click();
  await c.getByText('Nothing in it yet').waitFor();
  const pizza = c.locator(`li[data-menu-item="${PIZZA}"]`);
  await pizza.getByLabel('Quantity').selectOption('2');
  await pizza.getByRole('button', { name: `Add ${PIZZA} to the order` }).click();
  await c.getByRole('list', { name: 'Items in your order' }).getByText(`2 × ${PIZZA}`).waitFor();
  await c.locator(`li[data-menu-item="${SALAD}"]`).getByRole('button', { name: `Add ${SALAD} to the order` }).click();
  await c.getByRole('list', { name: 'Items in your order' }).getByText(`1 × ${SALAD}`).waitFor();
  // The running total is the read model's: 2 × 12.50 + 8.00.
  await c.getByTestId('order-total').getByText('€33.00').waitFor();
  await c.getByLabel('Street and number').fill('Dam 1');
  await c.getByLabel('Postal code').fill('1012 JS');
  await c.getByLabel('City').fill('Amsterdam');
  await c.getByLabel('Country code (e.g. NL)').fill('NL');
  await c.getByRole('button', { name: 'Deliver here' }).click();
  await c.getByTestId('delivery-address').getByText('Dam 1, 1012 JS Amsterdam, NL').waitFor();
  await pizza.scrollIntoViewIfNeeded();
  await screenshot(c, 'customer-menu');
  await c.getByRole('button', { name: 'Place order' }).click();

  // Placed; payment is authorized and the order confirmed while the customer watches.
  await stepDone(c, 'placed');
  const orderId = orderIdOf(c);
  const customerNotReloaded = await markNoReload(c);
  await stepDone(c, 'payment');
  await stepDone(c, 'confirmed');

  // The kitchen board shows it by itself, waiting time ticking.
  const ticket = kitchen.page.locator(`li.ticket[data-order="${orderId}"]`);
  await ticket.waitFor({ timeout: 20_000 });
  await ticket.getByText(`2 × ${PIZZA}`, { exact: false }).waitFor();
  const waited = await ticket.getByTestId('waited').textContent();
  await waitFor('the waiting time to tick on', async () => ((await ticket.getByTestId('waited').textContent()) !== waited ? true : undefined), 5000);
  await screenshot(kitchen.page, 'kitchen-board');

  await ticket.getByRole('button', { name: 'Start preparing' }).click();
  await stepDone(c, 'preparation_started');
  await ticket.getByRole('button', { name: 'Mark ready' }).click();
  await stepDone(c, 'ready');
  await ticket.waitFor({ state: 'detached' });

  // The courier's list shows it by itself.
  const delivery = courier.page.locator(`li.ticket[data-order="${orderId}"]`);
  await delivery.waitFor({ timeout: 20_000 });
  await screenshot(courier.page, 'courier');
  await delivery.getByRole('button', { name: 'Pick up and dispatch' }).click();
  await stepDone(c, 'dispatched');
  await delivery.getByRole('button', { name: 'Confirm delivery' }).click();
  await stepDone(c, 'delivered');
  await c.getByTestId('order-status').getByText('Delivered').waitFor();
  await delivery.waitFor({ state: 'detached' });
  await screenshot(c, 'order-timeline');

  // Nobody reloaded: every change arrived live.
  expect(await kitchenNotReloaded()).toBe(true);
  expect(await courierNotReloaded()).toBe(true);
  expect(await customerNotReloaded()).toBe(true);

  // The order is in the customer's past orders.
  await c.getByRole('link', { name: 'My orders', exact: true }).click();
  await c.getByRole('heading', { name: 'My orders' }).waitFor();
  const row = c.getByRole('row').filter({ hasText: 'Delivered' });
  await row.getByText('€33.00').waitFor();
  await screenshot(c, 'order-history');

  // Signed out and in again with the same email, the customer is the same customer.
  await c.getByRole('button', { name: 'Sign out' }).click();
  await c.getByLabel('Email').fill(`${run}@example.com`);
  await c.getByRole('button', { name: 'Sign in', exact: true }).last().click();
  await c.getByRole('heading', { name: 'Menu', level: 1 }).waitFor();
  await c.getByRole('link', { name: 'My orders', exact: true }).click();
  await c.getByRole('row').filter({ hasText: 'Delivered' }).getByText('€33.00').waitFor();
});

it("the manager sees the day's sales per day and per dish, as a chart and a table", async () => {
  const manager = await openPage(browser, stack.webUrl);
  pages.push(manager);
  await signInStaff(manager.page, 'Manager');
  await manager.page.getByRole('heading', { name: 'Menu management' }).waitFor();
  await manager.page.getByRole('link', { name: 'Sales' }).click();
  const perDish = manager.page.getByRole('region', { name: 'Per dish' });
  await perDish.getByRole('row', { name: new RegExp(PIZZA) }).getByRole('cell', { name: '2', exact: true }).waitFor();
  await perDish.getByRole('img', { name: /Dishes sold/ }).waitFor();
  await manager.page.getByRole('img', { name: /Revenue per day/ }).waitFor();
  await screenshot(manager.page, 'sales');
});

it('no page logged a console error or threw', () => {
  expect(pages.length).toBe(4);
  expect(pages.flatMap((p) => p.problems)).toEqual([]);
});
