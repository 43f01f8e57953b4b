// Privacy test support: randomized personal data that cannot occur by chance,
// and scanners that look for it in the raw bytes of the Kafka broker's data
// files (every topic, internal ones included) and in every Redis key.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type Redis from 'ioredis';
import type { Address } from '../../schemas/generated/types';
import { readStackSettings } from '../../infra/stack/settings';

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
  for (const file of await files(dir)) {
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
