// A day of traffic: customers order (journeys from scenario.ts), the kitchen
// works its queue (the kitchen read model), couriers take ready orders out.
// Payment and confirmation are the system's own: the order-fulfilment process
// manager asks the payment simulator and confirms or rejects each placed order.
import { randomUUID } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { errorCode, type Actor, type DemoClient, type Reply } from './client';
import { seededRandom, type Random } from './random';
import { journeys, type Journey, type ScenarioOptions } from './scenario';
import { settled, type SeededCustomer } from './seed';
import type { DemoStats } from './stats';

export interface TrafficOptions {
  readonly scenario: ScenarioOptions;
  readonly customers: readonly SeededCustomer[];
  readonly menuItemIds: readonly string[];
  /** Stop opening orders after this long (ms); undefined: until stop(). */
  readonly durationMs?: number;
  /** How often the kitchen looks at its queue (ms, default 1000). */
  readonly kitchenPollMs?: number;
  /** Most journeys in flight at once (default 100): beyond that, arrivals wait. */
  readonly maxInFlight?: number;
}

/** Waits ms, or less when the signal aborts first. */
function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, Math.max(0, ms));
    signal?.addEventListener('abort', done, { once: true });
  });
}

const kitchen: Actor = { role: 'kitchen' };
const courier: Actor = { role: 'courier' };

export class Traffic {
  private readonly stopping = new AbortController();
  private readonly inFlight = new Set<Promise<void>>();
  /** Orders the kitchen or a courier is acting on now, and those it is done with. */
  private readonly handled = new Map<string, 'starting' | 'cooking' | 'out'>();
  private readonly random: Random;
  private readonly runId = randomUUID().slice(0, 8);
  private done: Promise<void> | undefined;

  constructor(
    private readonly client: DemoClient,
    private readonly options: TrafficOptions,
    private readonly stats: DemoStats,
  ) {
    this.random = seededRandom(options.scenario.seed, 'kitchen-and-couriers');
    // Every waiting journey listens for the stop: hundreds at a high rate, none of them a leak.
    setMaxListeners(0, this.stopping.signal);
  }

  /** Starts customers, the kitchen and the couriers; resolves when stop() has been called (or the duration ran out) and the work in flight is done. */
  run(): Promise<void> {
    this.done ??= Promise.all([this.customersLoop(), this.kitchenLoop()]).then(async () => {
      await Promise.allSettled([...this.inFlight]);
    });
    return this.done;
  }

  /** Opens no more orders and ends the loops; the run() promise settles once the steps in flight finish. */
  stop(): void {
    this.stopping.abort();
  }

  get stopped(): boolean {
    return this.stopping.signal.aborted;
  }

  private track(work: Promise<void>): void {
    const tracked = work.catch((error: unknown) => this.stats.refused(`error: ${error instanceof Error ? error.message : String(error)}`)).finally(() => this.inFlight.delete(tracked));
    this.inFlight.add(tracked);
  }

  private async customersLoop(): Promise<void> {
    const start = Date.now();
    const limit = this.options.maxInFlight ?? 100;
    for (const journey of journeys(this.options.scenario)) {
      if (this.options.durationMs !== undefined && journey.atMs > this.options.durationMs) break;
      await sleep(start + journey.atMs - Date.now(), this.stopping.signal);
      while (!this.stopped && this.inFlight.size >= limit) await sleep(100, this.stopping.signal);
      if (this.stopped) return;
      this.track(this.journey(journey));
    }
    // The duration ran out: let the kitchen and couriers finish what was ordered, then stop.
    while (!this.stopped && this.inFlight.size > 0) await sleep(500, this.stopping.signal);
    this.stop();
  }

  /** A command the demo expects to succeed; a refusal is counted and ends the journey (undefined). */
  private async step(actor: Actor, route: string, path: string, body?: unknown, key?: string): Promise<Reply | undefined> {
    // Once stopping, no new step starts: what is in flight finishes, nothing rushes through.
    if (this.stopped) return undefined;
    const reply = await settled(() => this.client.command(actor, path, body, key));
    if (reply.status >= 200 && reply.status < 300 && reply.status !== 202) return reply;
    this.stats.refused(`${route}: ${reply.status} ${errorCode(reply) ?? ''}`.trim());
    return undefined;
  }

  private async journey(j: Journey): Promise<void> {
    const customer = this.options.customers[j.customer % this.options.customers.length] as SeededCustomer;
    const self: Actor = { role: 'customer', sub: customer.customerId };
    const key = (what: string): string => `demo-${this.runId}-${j.n}-${what}`;
    const think = (): Promise<void> => sleep(j.thinkMs, this.stopping.signal);

    const opened = await this.step(self, 'POST /orders', '/orders', { customerId: customer.customerId }, key('open'));
    if (opened === undefined) return;
    const orderId = String(opened.body.aggregateId);
    const order = `/orders/${encodeURIComponent(orderId)}`;
    this.stats.count('orders opened');
    for (const line of j.lines) {
      const menuItemId = this.options.menuItemIds[line.item % this.options.menuItemIds.length] as string;
      // The gateway reads prices from its own view of the menu: right after seeding it may not know an item yet.
      let added: Reply | undefined;
      for (let attempt = 0; attempt < 5 && added === undefined && !this.stopped; attempt++) {
        const reply = await settled(() => this.client.command(self, `${order}/items`, { menuItemId, quantity: line.quantity }, key(`add-${line.item}`)));
        if (reply.status === 200) added = reply;
        else if (errorCode(reply) === 'menu_item_not_found' && attempt < 4) await sleep(1000);
        else {
          this.stats.refused(`POST /orders/:id/items: ${reply.status} ${errorCode(reply) ?? ''}`.trim());
          break;
        }
      }
      if (added !== undefined) this.stats.count('items added');
    }
    await think();
    if (j.removed !== null) {
      const line = j.lines[j.removed];
      const menuItemId = line === undefined ? undefined : this.options.menuItemIds[line.item % this.options.menuItemIds.length];
      if (menuItemId !== undefined && (await this.step(self, 'POST /orders/:id/items/:item/remove', `${order}/items/${encodeURIComponent(menuItemId)}/remove`, undefined, key('remove')))) this.stats.count('items removed');
    }
    if ((await this.step(self, 'POST /orders/:id/delivery-address', `${order}/delivery-address`, { address: customer.address }, key('address'))) === undefined) return;
    if (j.exit === 'abandon') {
      if (await this.step(self, 'POST /orders/:id/cancel', `${order}/cancel`, { reason: 'changed my mind' }, key('cancel'))) this.stats.count('abandoned before placing');
      return;
    }
    await think();
    if ((await this.step(self, 'POST /orders/:id/place', `${order}/place`, undefined, key('place'))) === undefined) return;
    this.stats.count('orders placed');
    if (j.exit === 'cancel-after-placing') {
      // Some cancel while the payment is under way, some after the confirmation (then the payment is refunded).
      await sleep(j.thinkMs * 3, this.stopping.signal);
      if (await this.step(self, 'POST /orders/:id/cancel', `${order}/cancel`, { reason: 'ordered by mistake' }, key('cancel'))) this.stats.count('cancelled after placing');
    }
  }

  private async kitchenLoop(): Promise<void> {
    while (!this.stopped) {
      const reply = await this.client.query(kitchen, '/kitchen/queue').catch(() => undefined);
      const queue = reply?.status === 200 ? ((reply.body.queue ?? []) as Array<{ orderId: string; status: string; preparationStartedAt: number | null }>) : [];
      for (const ticket of queue) {
        const state = this.handled.get(ticket.orderId);
        if (ticket.status === 'CONFIRMED' && state === undefined) {
          this.handled.set(ticket.orderId, 'starting');
          this.track(this.cook(ticket.orderId));
        }
      }
      await sleep(this.options.kitchenPollMs ?? 1000, this.stopping.signal);
    }
  }

  /** The kitchen prepares a confirmed order, then a courier takes it out. */
  private async cook(orderId: string): Promise<void> {
    const order = `/orders/${encodeURIComponent(orderId)}`;
    const key = (what: string): string => `demo-kitchen-${orderId}-${what}`;
    if ((await this.step(kitchen, 'POST /orders/:id/start-preparation', `${order}/start-preparation`, undefined, key('start'))) === undefined) return;
    this.handled.set(orderId, 'cooking');
    this.stats.count('preparations started');
    await sleep(this.random.int(2_000, 8_000), this.stopping.signal);
    if ((await this.step(kitchen, 'POST /orders/:id/ready', `${order}/ready`, undefined, key('ready'))) === undefined) return;
    this.stats.count('orders ready');
    this.handled.set(orderId, 'out');
    await sleep(this.random.int(500, 3_000), this.stopping.signal);
    if ((await this.step(courier, 'POST /orders/:id/dispatch', `${order}/dispatch`, undefined, key('dispatch'))) === undefined) return;
    this.stats.count('orders dispatched');
    await sleep(this.random.int(2_000, 8_000), this.stopping.signal);
    if ((await this.step(courier, 'POST /orders/:id/deliver', `${order}/deliver`, undefined, key('deliver'))) === undefined) return;
    this.stats.count('orders delivered');
  }
}
