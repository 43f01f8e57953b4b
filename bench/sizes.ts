/**
 * npm run bench:sizes — what one record and one read-model key cost, measured on
 * whatever the stack holds now (e.g. after `npm run demo`), for the capacity
 * model in docs/scaling.md.
 *
 * Kafka: every topic of the catalog (TOPIC_PREFIX), read to its end: records,
 * mean key and value bytes, by record type (the registry schema the value names).
 * Redis: every key, grouped by pattern (ids replaced by *), with its count and
 * mean MEMORY USAGE over up to SIZES_SAMPLE (200) keys of each pattern.
 */
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import Redis from 'ioredis';
import { config } from '../infra/config';
import { createKafka } from '../infra/kafka/client';
import { AvroCodec } from '../infra/kafka/codec';
import { readToEnd } from '../infra/kafka/read-to-end';
import { rootLogger } from '../infra/logging';
import { topicCatalog } from '../schemas/topics';

const SAMPLE = Number(process.env.SIZES_SAMPLE ?? 200);

interface Tally {
  records: number;
  keyBytes: number;
  valueBytes: number;
}

const add = (map: Map<string, Tally>, name: string, key: number, value: number): void => {
  const t = map.get(name) ?? { records: 0, keyBytes: 0, valueBytes: 0 };
  map.set(name, { records: t.records + 1, keyBytes: t.keyBytes + key, valueBytes: t.valueBytes + value });
};

async function kafkaSizes(): Promise<void> {
  const kafka = createKafka('bench-sizes', rootLogger);
  const codec = new AvroCodec(new SchemaRegistry({ host: config().registry.url }));
  const names = new Map<number, string>();
  const byRecord = new Map<string, Tally>();
  const byTopic = new Map<string, Tally>();
  const admin = kafka.admin();
  await admin.connect();
  const existing = new Set(await admin.listTopics());
  await admin.disconnect();
  const topics = topicCatalog({ ...config().topics }).topics.filter((t) => existing.has(t.name));
  for (const topic of topics) {
    await readToEnd(kafka, [{ topic: topic.name }], async ({ message }) => {
      const value = message.value;
      const key = message.key?.length ?? 0;
      add(byTopic, topic.name, key, value?.length ?? 0);
      if (value === null || value.length < 5 || value[0] !== 0) return;
      const id = value.readInt32BE(1);
      if (!names.has(id)) names.set(id, await codec.decode(value).then((d) => d.fullName, () => `schema ${id}`));
      add(byRecord, `${topic.name}  ${names.get(id) ?? ''}`, key, value.length);
    }, { timeoutMs: 600_000 });
  }
  const row = (name: string, t: Tally): string => `  ${name.padEnd(78)} ${String(t.records).padStart(9)} ${(t.keyBytes / t.records).toFixed(0).padStart(6)} ${(t.valueBytes / t.records).toFixed(0).padStart(7)}`;
  console.log(`Kafka, by topic${' '.repeat(65)}records  key B  value B`);
  for (const [name, t] of byTopic) console.log(row(name, t));
  console.log('Kafka, by topic and record type');
  for (const [name, t] of [...byRecord].sort(([a], [b]) => (a < b ? -1 : 1))) console.log(row(name, t));
}

async function redisSizes(): Promise<void> {
  const redis = new Redis(config().redis.url, { lazyConnect: true, maxRetriesPerRequest: 2 });
  await redis.connect();
  try {
    const byPattern = new Map<string, string[]>();
    let cursor = '0';
    for (let rounds = 0; rounds < 100_000; rounds += 1) {
      const [next, keys] = await redis.scan(cursor, 'COUNT', 1000);
      for (const key of keys) {
        // An id is a segment with a digit in it (order-…, 2026-12-05, uuids); the rest names the key's kind.
        const pattern = key.split(':').map((s) => (/\d/.test(s) && !/^\{.*\}$/.test(s) ? '*' : s)).join(':');
        const list = byPattern.get(pattern) ?? [];
        list.push(key);
        byPattern.set(pattern, list);
      }
      cursor = next;
      if (cursor === '0') break;
    }
    console.log(`Redis (${(await redis.dbsize())} keys; used_memory ${/used_memory:(\d+)/.exec(await redis.info('memory'))?.[1] ?? '?'} B), by key pattern            keys  mean MEMORY USAGE B`);
    for (const [pattern, keys] of [...byPattern].sort(([a], [b]) => (a < b ? -1 : 1))) {
      const sample = keys.slice(0, SAMPLE);
      let bytes = 0;
      for (const key of sample) bytes += Number(await redis.memory('USAGE', key, 'SAMPLES', '0')) || 0;
      console.log(`  ${pattern.padEnd(60)} ${String(keys.length).padStart(9)} ${(bytes / sample.length).toFixed(0).padStart(9)}`);
    }
  } finally {
    redis.disconnect();
  }
}

async function main(): Promise<void> {
  await kafkaSizes();
  await redisSizes();
}

main().catch((error: unknown) => {
  console.error('sizes failed', error);
  process.exit(1);
});
