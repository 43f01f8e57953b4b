// Privacy test support: randomized personal data that cannot occur by chance,
// and scanners that look for it in the raw bytes of the Kafka broker's data
// files (every topic, internal ones included) and in every Redis key.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type Redis from 'ioredis';
import type { Kafka } from 'kafkajs';
import { customersKeys } from '../../consumers/projections/customers/customers.keys';
import { customersProjection } from '../../consumers/projections/customers/customers.projection';
import { customerView, openCustomerView, type CustomerView } from '../../consumers/projections/customers/customers.query';
import { ordersKeys } from '../../consumers/projections/orders/orders.keys';
import { ordersProjection, type OrderDocument } from '../../consumers/projections/orders/orders.projection';
import { openOrderDocument, orderView } from '../../consumers/projections/orders/orders.query';
import { MemoryStore } from '../../consumers/projections/shared/memory-store';
import { foldInto, type Envelope } from '../../consumers/projections/shared/projection';
import type { AvroCodec } from '../../infra/kafka/codec';
import { readToEnd } from '../../infra/kafka/read-to-end';
import type { Logger } from '../../infra/logging';
import { unwrapKey } from '../../infra/privacy/crypto';
import { KeyRing, parseKeyTopicRecord } from '../../infra/privacy/key-ring';
import { PersonalDataOpener } from '../../infra/privacy/personal-data';
import { privacySecrets } from '../../infra/privacy/settings';
import type { Address, EventMetadata } from '../../schemas/generated/types';
import type { CustomerEvent, OrderEvent } from '../../schemas/messages';
import { DATA_KEYS_TOPIC, topicName } from '../../schemas/topics';
import { readStackSettings } from '../../infra/stack/settings';
import { readRecords } from './process-managers';

export interface Person {
  readonly name: string;
  readonly email: string;
  readonly address: Address;
  /** Free text the customer writes (a cancellation reason). */
  readonly reason: string;
}

const LETTERS = 'bcdfghjklmnpqrstvwxz';

/** A person whose every personal string carries a random token of its own. */
export function person(random: () => number, i: number): Person {
  const token = (): string => Array.from({ length: 10 }, () => LETTERS[Math.floor(random() * LETTERS.length)]).join('');
  return {
    name: `Quin${token()} Vorm${token()}`,
    email: `mail${i}.${token()}@Example.org`,
    address: { line1: `Straat${token()} ${i + 1}`, line2: `Floor${token()}`, city: `Stad${token()}`, postalCode: `PC${token()}`, country: 'NL' },
    reason: `Changed my mind ${token()}`,
  };
}

/** The strings of a person that must never appear in plaintext outside the request that carried them. */
export function needles(p: Person): string[] {
  const { line1, line2, city, postalCode } = p.address;
  return [p.name, p.email, p.email.toLowerCase(), line1, line2 ?? '', city, postalCode, p.reason].filter((s) => s !== '');
}

/** Which of `needles` occur in `haystack` (utf-8 and, for Java-written files, utf-16 would differ: Kafka stores the bytes as sent). */
export function found(haystack: Buffer | string, list: readonly string[]): string[] {
  const bytes = typeof haystack === 'string' ? Buffer.from(haystack, 'utf8') : haystack;
  return list.filter((n) => bytes.includes(Buffer.from(n, 'utf8')));
}

async function files(dir: string): Promise<string[]> {
  const entries = await fs.readdir(dir, { withFileTypes: true }).catch(() => []);
  const nested = await Promise.all(entries.map((e) => (e.isDirectory() ? files(path.join(dir, e.name)) : Promise.resolve([path.join(dir, e.name)]))));
  return nested.flat();
}

/** Every needle found in the broker's data files, with the file it is in. */
export async function scanKafkaDataFiles(list: readonly string[]): Promise<{ file: string; needle: string }[]> {
  const dir = readStackSettings().dataDir;
  const hits: { file: string; needle: string }[] = [];
  // Offset and time indexes hold offsets and times only (and are preallocated to 10 MB each): the records are in the .log files.
  for (const file of (await files(dir)).filter((f) => !f.endsWith('.index') && !f.endsWith('.timeindex'))) {
    const bytes = await fs.readFile(file).catch(() => Buffer.alloc(0));
    for (const needle of found(bytes, list)) hits.push({ file: path.relative(dir, file), needle });
  }
  return hits;
}

/** Every needle found in any Redis key's name or value, with the key. */
export async function scanRedis(redis: Redis, list: readonly string[]): Promise<{ key: string; needle: string }[]> {
  const hits: { key: string; needle: string }[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'COUNT', 500);
    cursor = next;
    for (const key of keys) {
      const type = await redis.type(key);
      let text = key;
      if (type === 'string') text += (await redis.getBuffer(key))?.toString('latin1') ?? '';
      else if (type === 'hash') text += JSON.stringify(await redis.hgetall(key));
      else if (type === 'zset') text += JSON.stringify(await redis.zrange(key, 0, -1));
      else if (type === 'set') text += JSON.stringify(await redis.smembers(key));
      else if (type === 'list') text += JSON.stringify(await redis.lrange(key, 0, -1));
      else if (type === 'stream') text += JSON.stringify(await redis.xrange(key, '-', '+'));
      for (const needle of found(text, list)) hits.push({ key, needle });
    }
  } while (cursor !== '0');
  return hits;
}

/**
 * An independent fold of the customers and orders read models for some
 * customers and orders, straight from the event topics, shown through an
 * opener over the keys topic as read here with the master key: what the query
 * API must answer after any replay.
 */
export async function foldedViews(
  kafka: Kafka,
  codec: AvroCodec,
  customerIds: readonly string[],
  orderIds: readonly string[],
): Promise<{ customers: Map<string, CustomerView | null>; orders: Map<string, OrderDocument | null> }> {
  const store = new MemoryStore();
  const envelopes = async <E>(topic: string, ids: ReadonlySet<string>): Promise<Envelope<E>[]> =>
    (await readRecords(kafka, topic, codec))
      .filter((r) => r.value !== null && ids.has(r.key.slice(0, r.key.lastIndexOf('/'))))
      .map((r) => {
        const { metadata, ...data } = r.value as Record<string, unknown> & { metadata: EventMetadata };
        return { event: { type: r.type, data } as E, metadata };
      });
  foldInto(store, customersProjection, FOLD_KS, await envelopes<CustomerEvent>(topicName('customer', 'events'), new Set(customerIds)));
  foldInto(store, ordersProjection, FOLD_KS, await envelopes<OrderEvent>(topicName('order', 'events'), new Set(orderIds)));

  const ring = new KeyRing();
  await readToEnd(kafka, [{ topic: DATA_KEYS_TOPIC }], async ({ message }) => {
    ring.apply(message.key?.toString() ?? '', message.value === null ? undefined : parseKeyTopicRecord(message.value));
  });
  const { master } = await privacySecrets();
  const silent = { warn: () => undefined } as unknown as Logger;
  const opener = new PersonalDataOpener({ customer: (id) => ring.customer(id), dataKey: (r) => unwrapKey(master, r) }, silent);
  const customers = new Map(customerIds.map((id) => {
    const view = customerView(store.hgetall(customersKeys(FOLD_KS).profile(id)), store.hgetall(customersKeys(FOLD_KS).addresses(id)));
    return [id, view === null ? null : openCustomerView(view, opener)] as const;
  }));
  const orders = new Map(orderIds.map((id) => {
    const doc = orderView(store.get(ordersKeys(FOLD_KS).order(id)));
    return [id, doc === null ? null : openOrderDocument(doc, opener)] as const;
  }));
  return { customers, orders };
}

const FOLD_KS = 'fold';
