// A running restaurant for the live-update tests and benchmark: the command
// roles, projectors and query API as separate processes in a keyspace of the
// run's own, tokens for each role, and the steps of an order's life.
import { READ_MODELS } from '../../consumers/projections/shared/keys';
import { projectionGroupId } from '../../consumers/projections/runtime/read-models';
import { bearer } from './auth';
import { call, type Reply } from './http';
import { testKafka, testRedis, unique, withAdmin } from './kafka';
import { waitFor } from '../../infra/wait-for';
import { dropKeys } from './read-side';
import { startRole, type RoleProcess } from '../../app/chaos/role-process';
import { SseClient, type SseOpen } from './sse';

export const address = { line1: 'Dam 1', line2: null, city: 'Amsterdam', postalCode: '1012 JS', country: 'NL' };
export type Staff = 'kitchen' | 'courier' | 'manager' | 'admin';

export interface Restaurant {
  readonly gateway: string;
  readonly query: RoleProcess;
  readonly keyspace: string;
  readonly staff: Readonly<Record<Staff, Record<string, string>>>;
  post(who: Record<string, string>, path: string, body?: unknown): Promise<Reply>;
  get(who: Record<string, string>, path: string, consistency?: string): Promise<Reply>;
  live(who: Record<string, string>, path: string, headers?: Record<string, string>): Promise<SseOpen>;
  /** Signs up a customer of the run's own and returns their id and token headers. */
  customer(name: string): Promise<{ id: string; auth: Record<string, string> }>;
  /** A dish on the menu, once the gateway's menu view has it. */
  dish(name: string, amountMinor: number): Promise<string>;
  /** Opens, fills and places an order for the customer; returns its id and the place reply's token. */
  placedOrder(customer: Record<string, string>, dish: string): Promise<{ orderId: string; token: string }>;
  stop(): Promise<void>;
}

export function expectStatus(reply: Reply, status: number, what: string): Reply {
  if (reply.status !== status) throw new Error(`${what}: expected ${status}, got ${reply.status} ${JSON.stringify(reply.body)}`);
  return reply;
}

/** `queryEnv`: more environment for the query API process only. */
export async function startRestaurant(name: string, extraEnv: Record<string, string> = {}, queryEnv: Record<string, string> = {}): Promise<Restaurant> {
  const keyspace = unique(name).toLowerCase();
  const env = { COMMAND_WAIT_MS: '5000', READ_MODEL_KEYSPACE: keyspace, CONSISTENCY_WAIT_MS: '5000', ...extraEnv };
  const roles = await Promise.all([startRole('commands', env), startRole('query', { ...env, ...queryEnv }), startRole('projectors', env)]);
  const [commands, query] = roles;
  const staff = {
    kitchen: await bearer('kitchen', 'staff-kitchen'),
    courier: await bearer('courier', 'staff-courier'),
    manager: await bearer('manager', 'staff-manager'),
    admin: await bearer('admin', 'staff-admin'),
  };
  const post = (who: Record<string, string>, path: string, body: unknown = {}) => call(commands.url, 'POST', path, body, who);
  const get = (who: Record<string, string>, path: string, consistency?: string) =>
    call(query.queryUrl, 'GET', path, undefined, { ...who, ...(consistency === undefined ? {} : { 'X-Consistency-Token': consistency }) });
  // A fresh keyspace: each read model answers 503 `rebuilding` until it has caught up with the history on the broker.
  for (const path of ['/menu', '/kitchen/queue', '/orders/none', '/customers/none']) {
    await waitFor(`${path} answering`, async () => ((await get(staff.admin, path)).status === 503 ? undefined : true), 180_000, 500);
  }
  const restaurant: Restaurant = {
    gateway: commands.url,
    query,
    keyspace,
    staff,
    post,
    get,
    live: (who, path, headers = {}) => SseClient.open(`${query.queryUrl}${path}`, { ...who, ...headers }),
    async customer(label) {
      const id = unique(`cust-${label}`);
      const auth = await bearer('customer', id);
      expectStatus(await post(auth, '/customers', { name: label, email: `${id}@example.com` }), 201, `sign up ${label}`);
      return { id, auth };
    },
    async dish(label, amountMinor) {
      const added = expectStatus(await post(staff.manager, '/menu/items', { name: label, description: '', category: 'MAIN', price: { amountMinor, currency: 'EUR' } }), 201, 'add dish');
      return added.body.aggregateId as string;
    },
    async placedOrder(customer, dish) {
      const orderId = expectStatus(await post(customer, '/orders', {}), 201, 'open').body.aggregateId as string;
      // The gateway prices items from its view of the menu, which sees a new dish a moment after it was added.
      await waitFor('the dish priced by the gateway', async () => ((await post(customer, `/orders/${orderId}/items`, { menuItemId: dish, quantity: 2 })).status === 200 ? true : undefined), 30_000, 200);
      expectStatus(await post(customer, `/orders/${orderId}/delivery-address`, { address }), 200, 'address');
      const placed = expectStatus(await post(customer, `/orders/${orderId}/place`), 200, 'place');
      return { orderId, token: placed.body.consistencyToken as string };
    },
    async stop() {
      await Promise.all(roles.map((r) => r.stop().catch(() => null)));
      const redis = testRedis();
      await redis.connect();
      await dropKeys(redis, `rm:{${keyspace}}:*`);
      await redis.quit();
      await withAdmin(testKafka('live-cleanup'), (admin) => admin.deleteGroups(READ_MODELS.map((m) => projectionGroupId(m, keyspace)))).catch(() => undefined);
    },
  };
  return restaurant;
}
