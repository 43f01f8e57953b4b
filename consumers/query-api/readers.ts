// Reading the read models' documents out of Redis, for the GET routes and the
// live streams alike (the stored shapes are in docs/read-models.md).
import type Redis from 'ioredis';
import { MenuCategorySymbols } from '../../schemas/generated/types';
import { courierQueueView, type AddressOpener, type CourierEntryView } from '../projections/kitchen/courier.query';
import { kitchenKeys } from '../projections/kitchen/kitchen.keys';
import { kitchenQueueView, type KitchenTicketView, type QueueEntry } from '../projections/kitchen/kitchen.query';
import { menuKeys } from '../projections/menu/menu.keys';
import { menuView, type MenuView } from '../projections/menu/menu.query';
import { ordersKeys } from '../projections/orders/orders.keys';
import type { OrderDocument } from '../projections/orders/orders.projection';
import { orderView } from '../projections/orders/orders.query';

type Hash = Record<string, string>;

/** The results of a pipeline, failing on the first error. */
export async function run<T>(pipeline: ReturnType<Redis['pipeline']>): Promise<T[]> {
  const results = (await pipeline.exec()) ?? [];
  return results.map(([err, value]) => {
    if (err) throw err;
    return value as T;
  });
}

export async function readMenu(redis: Redis, keyspace: string): Promise<MenuView> {
  const keys = menuKeys(keyspace);
  const sets = await run<string[]>(MenuCategorySymbols.reduce((p, c) => p.smembers(keys.category(c)), redis.pipeline()));
  const ids = [...new Set(sets.flat())].sort();
  const hashes = ids.length === 0 ? [] : await run<Hash>(ids.reduce((p, id) => p.hgetall(keys.item(id)), redis.pipeline()));
  return menuView(hashes);
}

/** A sorted set's members with their scores, lowest first, and the ticket hash of each. */
async function ticketsOf(redis: Redis, keyspace: string, zset: string): Promise<{ entries: QueueEntry[]; tickets: Hash[] }> {
  const keys = kitchenKeys(keyspace);
  const flat = await redis.zrange(zset, 0, -1, 'WITHSCORES');
  const entries: QueueEntry[] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) entries.push({ member: flat[i] as string, score: Number(flat[i + 1]) });
  const tickets = entries.length === 0 ? [] : await run<Hash>(entries.reduce((p, e) => p.hgetall(keys.ticket(e.member)), redis.pipeline()));
  return { entries, tickets };
}

export async function readKitchenQueue(redis: Redis, keyspace: string, now: number): Promise<KitchenTicketView[]> {
  const { entries, tickets } = await ticketsOf(redis, keyspace, kitchenKeys(keyspace).queue);
  return kitchenQueueView(entries, tickets, now);
}

export async function readCourierQueue(redis: Redis, keyspace: string, now: number, openAddress?: AddressOpener): Promise<CourierEntryView[]> {
  const { entries, tickets } = await ticketsOf(redis, keyspace, kitchenKeys(keyspace).courier);
  return courierQueueView(entries, tickets, now, openAddress);
}

export async function readOrder(redis: Redis, keyspace: string, orderId: string): Promise<OrderDocument | null> {
  return orderView(await redis.get(ordersKeys(keyspace).order(orderId)));
}

/** A customer's order documents, newest first, ZRANGE REV positions start..stop (a missing document is null). */
export async function readCustomerOrders(redis: Redis, keyspace: string, customerId: string, start: number, stop: number): Promise<(string | null)[]> {
  const keys = ordersKeys(keyspace);
  const ids = await redis.zrange(keys.byCustomer(customerId), start, stop, 'REV');
  return ids.length === 0 ? [] : redis.mget(...ids.map((o) => keys.order(o)));
}
