// Opening the restaurant: the menu and the customers, idempotently, so a
// second run with the same seed finds what the first created.
import { errorCode, type DemoClient, type Reply } from './client';
import { CURRENCY, type DemoCustomer, type DemoMenuItem } from './seed-data';
import type { DemoStats } from './stats';

export interface SeededCustomer extends DemoCustomer {
  readonly customerId: string;
}

const slug = (text: string): string => text.toLowerCase().normalize('NFKD').replace(/[^a-z0-9]+/g, '-');
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Retries a command that answered 202 (pending) or 503 (unavailable) with the same Idempotency-Key, a few times. */
export async function settled(send: () => Promise<Reply>, attempts = 5): Promise<Reply> {
  let reply = await send();
  for (let i = 1; i < attempts && (reply.status === 202 || reply.status === 503); i++) {
    await sleep(500 * i);
    reply = await send();
  }
  return reply;
}

function describe(reply: Reply): string {
  return `${reply.status} ${errorCode(reply) ?? ''}`.trim();
}

/** Menu item ids by name: what the menu read model has, plus what is added now. */
export async function seedMenu(client: DemoClient, menu: readonly DemoMenuItem[], stats: DemoStats): Promise<string[]> {
  const manager = { role: 'manager' } as const;
  const current = await client.query(manager, '/menu');
  if (current.status !== 200) throw new Error(`GET /menu answered ${describe(current)}: is the query API running (npm start)?`);
  const byName = new Map<string, string>();
  for (const group of (current.body.categories ?? []) as Array<{ items: Array<{ menuItemId: string; name: string }> }>) {
    for (const item of group.items) byName.set(item.name, item.menuItemId);
  }
  const ids: string[] = [];
  for (const item of menu) {
    const found = byName.get(item.name);
    if (found !== undefined) {
      ids.push(found);
      stats.count('menu items found');
      continue;
    }
    const body = { name: item.name, description: item.description, category: item.category, price: { amountMinor: item.priceMinor, currency: CURRENCY } };
    const reply = await settled(() => client.command(manager, '/menu/items', body, `demo-menu-${slug(item.name)}`));
    if (reply.status !== 201 && reply.status !== 200) throw new Error(`adding ${item.name} to the menu answered ${describe(reply)}`);
    ids.push(String(reply.body.aggregateId));
    stats.count('menu items added');
  }
  return ids;
}

/** Signs the customers up (each with a delivery address), `concurrency` at a time. */
export async function seedCustomers(client: DemoClient, customers: readonly DemoCustomer[], seed: string, stats: DemoStats, concurrency = 4): Promise<SeededCustomer[]> {
  const seeded: Array<SeededCustomer | undefined> = new Array(customers.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < customers.length) {
      const i = next++;
      const customer = customers[i] as DemoCustomer;
      // A customer's id is their token's subject: they sign up as themself.
      const self = { role: 'customer', sub: `demo-${slug(seed)}-customer-${i + 1}` } as const;
      const reply = await settled(() => client.command(self, '/customers', { name: customer.name, email: customer.email }, `demo-${slug(seed)}-customer-${i}`));
      if (reply.status !== 201 && reply.status !== 200) {
        stats.refused(`POST /customers: ${describe(reply)}`);
        continue;
      }
      const customerId = String(reply.body.aggregateId);
      const address = await settled(() => client.command(self, `/customers/${encodeURIComponent(customerId)}/addresses`, { addressId: 'home', address: customer.address }, `demo-${slug(seed)}-customer-${i}-home`));
      if (address.status >= 300) stats.refused(`POST /customers/:id/addresses: ${describe(address)}`);
      seeded[i] = { ...customer, customerId };
      stats.count('customers signed up');
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return seeded.filter((c): c is SeededCustomer => c !== undefined);
}
