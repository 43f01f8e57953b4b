// What the command processor's crash and fold-version tests and their child
// process (stateful-crash-child.ts, modes `processor-*`) share: a topic set of
// the run's own (the catalog's topics under TOPIC_PREFIX=<run>, as
// `npm run bench:state` makes one), OpenOrder commands written straight to the
// order commands topic, and the checks on what the processor wrote.
import type { Kafka, Producer } from 'kafkajs';
import { aggregateRuntimes, type AggregateRuntime } from '../../producers/command-processor/aggregates';
import type { AvroCodec } from '../../infra/kafka/codec';
import { allTopicSpecs, applyTopics, registerSubjects } from '../../infra/kafka/topics';
import type { CommandMetadata } from '../../schemas/generated/types';
import { partitionFor } from '../../schemas/partitioning';
import { TOPIC_PREFIX, topicCatalog, type TopicSpec } from '../../schemas/topics';
import { countBy, readRecords } from './process-managers';
import { withAdmin } from './kafka';

export const PROCESSOR_PARTITIONS = 2;

/** The run's topic names (its catalog under TOPIC_PREFIX=<run>). */
export function processorTopics(run: string) {
  return {
    commands: `${run}.order.commands`,
    events: `${run}.order.events`,
    snapshots: `${run}.order.snapshots`,
    replies: `${run}.command-replies`,
    groupId: `${run}.command-processor`,
  };
}

/** The catalog's topics the processor reads and writes (their DLQs and the commands' parked topics too), renamed under the run's prefix. */
function specsUnder(run: string): TopicSpec[] {
  const processorTopic = /\.(commands|events|snapshots)(\.dlq)?$|\.commands\.parked$|\.command-replies$/;
  return allTopicSpecs(topicCatalog({ partitions: PROCESSOR_PARTITIONS }))
    .filter((s) => processorTopic.test(s.name))
    .map((s) => ({ ...s, name: `${run}${s.name.slice(TOPIC_PREFIX.length)}` }));
}

export async function createProcessorTopics(kafka: Kafka, codec: AvroCodec, run: string): Promise<void> {
  const specs = specsUnder(run);
  const applied = await withAdmin(kafka, (admin) => applyTopics(admin, specs));
  if (applied.drift.length > 0) throw new Error(`the run's topics differ from the catalog: ${JSON.stringify(applied.drift)}`);
  await registerSubjects(codec, specs);
}

export async function deleteProcessorTopics(kafka: Kafka, run: string): Promise<void> {
  await withAdmin(kafka, async (admin) => {
    await admin.deleteGroups([processorTopics(run).groupId]).catch(() => undefined);
    await admin.deleteTopics({ topics: specsUnder(run).map((s) => s.name) }).catch(() => undefined);
  });
}

/** Writes OpenOrder for each order (commandId `c-<order>`, or `c-<order>` again for a repeat), keyed and partitioned as the gateway does. */
export async function openOrders(producer: Producer, codec: AvroCodec, run: string, orders: readonly string[]): Promise<void> {
  const { commands } = processorTopics(run);
  const messages = await Promise.all(
    orders.map(async (orderId) => {
      const metadata: CommandMetadata = { commandId: `c-${orderId}`, aggregateId: orderId, correlationId: `k-${orderId}`, issuedAt: Date.now(), expectedVersion: null, actor: null };
      return { key: orderId, partition: partitionFor(orderId, PROCESSOR_PARTITIONS), value: await codec.encode(commands, 'restaurant.order.OpenOrder', { customerId: `customer-${orderId}`, metadata }) };
    }),
  );
  await producer.send({ topic: commands, acks: -1, messages });
}

/**
 * The order fold changed: an opened order's customer is kept in upper case
 * (what its snapshots mean changes), declared as fold version 2.
 */
export function changedOrderFold(): AggregateRuntime {
  const order = aggregateRuntimes({ order: { maxOrderTotalMinor: 100_000 } }).order;
  return {
    ...order,
    foldVersion: 2,
    evolve: (state, event) => {
      const next = order.evolve(state, event) as { customerId?: string };
      return typeof next.customerId === 'string' ? { ...next, customerId: next.customerId.toUpperCase() } : next;
    },
  };
}

export interface Written {
  /** Every reply, by commandId. */
  readonly replies: Map<string, Array<Record<string, unknown>>>;
  /** Every event key (`<order>/<version>`) with how often it was written. */
  readonly events: Map<string, number>;
}

export async function written(kafka: Kafka, codec: AvroCodec, run: string): Promise<Written> {
  const t = processorTopics(run);
  const replies = new Map<string, Array<Record<string, unknown>>>();
  for (const r of await readRecords(kafka, t.replies, codec)) if (r.value !== null) replies.set(r.key, [...(replies.get(r.key) ?? []), r.value]);
  const events = countBy(await readRecords(kafka, t.events, codec), (r) => r.key);
  return { replies, events };
}

/**
 * Every order opened exactly once: one event, version 1, per order (no
 * duplicate event version); every command answered (none lost); a command
 * decided once answered once, and a repeat of its commandId answered with the
 * original reply.
 */
export function checkOpenedOnce(w: Written, orders: readonly string[], repeated: ReadonlySet<string>): string[] {
  const problems: string[] = [];
  for (const [key, n] of w.events) if (n !== 1) problems.push(`event ${key} written ${n} times`);
  for (const order of orders) {
    if (w.events.get(`${order}/1`) !== 1) problems.push(`${order} has no OrderOpened at version 1`);
    if ([...w.events.keys()].some((k) => k.startsWith(`${order}/`) && k !== `${order}/1`)) problems.push(`${order} has events past version 1`);
    const replies = w.replies.get(`c-${order}`) ?? [];
    const expected = repeated.has(order) ? 2 : 1;
    if (replies.length !== expected) problems.push(`c-${order} answered ${replies.length} times, expected ${expected}`);
    if (replies.some((r) => r.status !== 'ACCEPTED')) problems.push(`c-${order} answered ${replies.map((r) => String(r.status)).join(', ')}`);
    if (replies.length === 2 && JSON.stringify(replies[0]) !== JSON.stringify(replies[1])) problems.push(`c-${order}'s repeat was not answered with the original reply`);
  }
  return problems;
}
