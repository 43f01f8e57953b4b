// The chaos run's client load: a seeded day of the restaurant compressed into
// the run's duration. A manager fills the menu, customers sign up as themselves
// and order (open, add items, sometimes remove one, address, place, some
// abandon or cancel after placing: the demo's journeys), the kitchen works its
// queue and couriers deliver. Every command goes through ChaosClient, which
// retries the same request and keeps the ledger.
import { setMaxListeners } from 'node:events';
import type { Actor } from '../../demo/client';
import { seededRandom, type Random } from '../../demo/random';
import { journeys, type Journey } from '../../demo/scenario';
import { CURRENCY, DEMO_MENU, demoCustomers, type DemoCustomer } from '../../demo/seed-data';
import type { ChaosClient } from './client';

export interface LoadOptions {
  readonly seed: string;
  /** Orders opened per minute, on average. */
  readonly ordersPerMinute: number;
  readonly customers: number;
  readonly menuItems: number;
  /** How often the kitchen looks at its queue. */
  readonly kitchenPollMs?: number;
  /** Most journeys in flight at once (default 40). */
  readonly maxInFlight?: number;
}

export interface LoadCounts {
  menuItems: number;
  customers: number;
  ordersOpened: number;
  ordersPlaced: number;
  cancelled: number;
  prepared: number;
  delivered: number;
  journeysEndedEarly: number;
}

const kitchen: Actor = { role: 'kitchen' };
const courier: Actor = { role: 'courier' };
const manager: Actor = { role: 'manager' };
const ok = (status: number): boolean => status >= 200 && status < 300;

export class ChaosLoad {
  readonly counts: LoadCounts = { menuItems: 0, customers: 0, ordersOpened: 0, ordersPlaced: 0, cancelled: 0, prepared: 0, delivered: 0, journeysEndedEarly: 0 };
  private readonly stopping = new AbortController();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly kitchenSeen = new Set<string>();
  private readonly random: Random;
  private menuItemIds: string[] = [];
  private customers: Array<DemoCustomer & { readonly customerId: string }> = [];
  private running: Promise<void> | undefined;

  constructor(
    private readonly client: ChaosClient,
    private readonly options: LoadOptions,
  ) {
    this.random = seededRandom(options.seed, 'chaos-kitchen');
    setMaxListeners(0, this.stopping.signal);
  }

  /** The menu and the customers, before the faults start. Throws when the restaurant cannot even open. */
  async open(): Promise<void> {
    const tag = this.options.seed.toLowerCase().replace(/[^a-z0-9]+/g, '-');
    for (const item of DEMO_MENU.slice(0, this.options.menuItems)) {
      const body = { name: item.name, description: item.description, category: item.category, price: { amountMinor: item.priceMinor, currency: CURRENCY } };
      const reply = await this.client.command(manager, 'POST /menu/items', '/menu/items', body, `chaos-${tag}-menu-${this.menuItemIds.length}`);
      if (!ok(reply.status)) throw new Error(`adding ${item.name} to the menu answered ${reply.status} ${JSON.stringify(reply.body)}`);
      this.menuItemIds.push(String(reply.body.aggregateId));
      this.counts.menuItems += 1;
    }
    const people = demoCustomers(seededRandom(this.options.seed, 'chaos-customers'), this.options.customers, `chaos-${tag}`);
    await Promise.all(
      people.map(async (person, i) => {
        const self: Actor = { role: 'customer', sub: `chaos-${tag}-customer-${i + 1}` };
        const reply = await this.client.command(self, 'POST /customers', '/customers', { name: person.name, email: person.email }, `chaos-${tag}-customer-${i}`);
        if (ok(reply.status)) {
          this.customers.push({ ...person, customerId: String(reply.body.aggregateId) });
          this.counts.customers += 1;
        }
      }),
    );
    if (this.customers.length === 0) throw new Error('no customer could sign up');
  }

  /** Customers order while the kitchen and couriers work, until stop(). */
  start(): void {
    this.running ??= Promise.all([this.customersLoop(), this.kitchenLoop()]).then(async () => {
      await Promise.allSettled([...this.inFlight]);
    });
  }

  /** No new journey or step; waits for what is in flight. */
  async stop(): Promise<void> {
    this.stopping.abort();
    await this.running;
  }

  private sleep(ms: number): Promise<void> {
    const signal = this.stopping.signal;
    return new Promise((resolve) => {
      if (signal.aborted) return resolve();
      const timer = setTimeout(done, Math.max(0, ms));
      function done(): void {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      }
      signal.addEventListener('abort', done, { once: true });
    });
  }

  private track(work: Promise<void>): void {
    const tracked: Promise<void> = work.catch(() => undefined).finally(() => this.inFlight.delete(tracked));
    this.inFlight.add(tracked);
  }

  private async customersLoop(): Promise<void> {
    const start = Date.now();
    const scenario = { seed: this.options.seed, ordersPerMinute: this.options.ordersPerMinute, customers: this.customers.length, menuItems: this.menuItemIds.length, abandonShare: 0.1, cancelShare: 0.1 };
    for (const journey of journeys(scenario)) {
      if (this.stopping.signal.aborted) return;
      await this.sleep(start + journey.atMs - Date.now());
      while (!this.stopping.signal.aborted && this.inFlight.size >= (this.options.maxInFlight ?? 40)) await this.sleep(100);
      if (this.stopping.signal.aborted) return;
      this.track(this.journey(journey));
    }
  }

  /** One step of a journey: true when it was accepted, so the journey goes on. */
  private async step(actor: Actor, route: string, path: string, body: unknown, key: string): Promise<boolean> {
    if (this.stopping.signal.aborted) return false;
    const reply = await this.client.command(actor, route, path, body, key);
    return ok(reply.status);
  }

  private async journey(j: Journey): Promise<void> {
    const customer = this.customers[j.customer % this.customers.length] as DemoCustomer & { customerId: string };
    const self: Actor = { role: 'customer', sub: customer.customerId };
    const key = (what: string): string => `chaos-${this.options.seed}-order-${j.n}-${what}`;
    const think = (): Promise<void> => this.sleep(j.thinkMs);
    const opened = await this.client.command(self, 'POST /orders', '/orders', { customerId: customer.customerId }, key('open'));
    if (!ok(opened.status)) return void (this.counts.journeysEndedEarly += 1);
    this.counts.ordersOpened += 1;
    const order = `/orders/${encodeURIComponent(String(opened.body.aggregateId))}`;
    for (const line of j.lines) {
      const menuItemId = this.menuItemIds[line.item % this.menuItemIds.length] as string;
      await this.step(self, 'POST /orders/:id/items', `${order}/items`, { menuItemId, quantity: line.quantity }, key(`add-${line.item}`));
    }
    await think();
    if (j.removed !== null) {
      const line = j.lines[j.removed];
      const menuItemId = line === undefined ? undefined : this.menuItemIds[line.item % this.menuItemIds.length];
      if (menuItemId !== undefined) await this.step(self, 'POST /orders/:id/items/:item/remove', `${order}/items/${encodeURIComponent(menuItemId)}/remove`, undefined, key('remove'));
    }
    if (!(await this.step(self, 'POST /orders/:id/delivery-address', `${order}/delivery-address`, { address: customer.address }, key('address')))) return void (this.counts.journeysEndedEarly += 1);
    if (j.exit === 'abandon') {
      if (await this.step(self, 'POST /orders/:id/cancel', `${order}/cancel`, { reason: 'changed my mind' }, key('cancel'))) this.counts.cancelled += 1;
      return;
    }
    await think();
    if (!(await this.step(self, 'POST /orders/:id/place', `${order}/place`, undefined, key('place')))) return void (this.counts.journeysEndedEarly += 1);
    this.counts.ordersPlaced += 1;
    if (j.exit === 'cancel-after-placing') {
      await this.sleep(j.thinkMs * 3);
      if (await this.step(self, 'POST /orders/:id/cancel', `${order}/cancel`, { reason: 'ordered by mistake' }, key('cancel'))) this.counts.cancelled += 1;
    }
  }

  private async kitchenLoop(): Promise<void> {
    while (!this.stopping.signal.aborted) {
      const reply = await this.client.query(kitchen, '/kitchen/queue');
      const queue = reply.status === 200 && Array.isArray(reply.body.queue) ? (reply.body.queue as Array<{ orderId: string; status: string }>) : [];
      for (const ticket of queue) {
        if (ticket.status !== 'CONFIRMED' || this.kitchenSeen.has(ticket.orderId)) continue;
        this.kitchenSeen.add(ticket.orderId);
        this.track(this.cook(ticket.orderId));
      }
      await this.sleep(this.options.kitchenPollMs ?? 1000);
    }
  }

  private async cook(orderId: string): Promise<void> {
    const order = `/orders/${encodeURIComponent(orderId)}`;
    const key = (what: string): string => `chaos-${this.options.seed}-kitchen-${orderId}-${what}`;
    if (!(await this.step(kitchen, 'POST /orders/:id/start-preparation', `${order}/start-preparation`, undefined, key('start')))) return;
    await this.sleep(this.random.int(500, 3000));
    if (!(await this.step(kitchen, 'POST /orders/:id/ready', `${order}/ready`, undefined, key('ready')))) return;
    this.counts.prepared += 1;
    await this.sleep(this.random.int(200, 1500));
    if (!(await this.step(courier, 'POST /orders/:id/dispatch', `${order}/dispatch`, undefined, key('dispatch')))) return;
    await this.sleep(this.random.int(500, 3000));
    if (await this.step(courier, 'POST /orders/:id/deliver', `${order}/deliver`, undefined, key('deliver'))) this.counts.delivered += 1;
  }
}
