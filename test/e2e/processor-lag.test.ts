/**
 * The command processor's lag on a commands topic written in transactions, as
 * the order-fulfilment process manager writes its commands: every partition of
 * restaurant.order.commands ends with a commit marker, an offset the
 * processor's read-committed consumer is never handed. A caught-up processor
 * (a real process) shows 0 in its restaurant_consumer_lag_messages, in the
 * group's committed offsets and in Kafka's kafka-consumer-groups; so does one
 * started again after kill -9, and a command written after the markers is
 * decided, and nothing before them twice.
 */
import { randomUUID } from 'node:crypto';
import type { Message } from 'kafkajs';
import { AvroCodec } from '../../infra/kafka/codec';
import { DEFAULT_GROUP } from '../../producers/command-processor/processor';
import type { OpenOrder } from '../../schemas/generated/types';
import { partitionFor } from '../../schemas/partitioning';
import { topicCatalog, topicName } from '../../schemas/topics';
import { readEvents } from '../support/events';
import { testKafka, testRegistry, unique } from '../support/kafka';
import { waitFor } from '../../infra/wait-for';
import { groupPositions, lagFromConsumerGroups, lagFromMetrics } from '../support/lag';
import { startRole, type RoleProcess } from '../../app/chaos/role-process';

const kafka = testKafka('e2e-processor-lag');
const codec = new AvroCodec(testRegistry());
const COMMANDS = topicName('order', 'commands');
const EVENTS = topicName('order', 'events');
const partitions = topicCatalog().topic(COMMANDS).partitions;
const producer = kafka.producer({ transactionalId: unique('e2e-processor-lag'), idempotent: true, maxInFlightRequests: 1 });
const roles: RoleProcess[] = [];

beforeAll(async () => {
  await producer.connect();
});

afterAll(async () => {
  await Promise.all(roles.map((r) => r.stop().catch(() => null)));
  await producer.disconnect();
});

/** One OpenOrder on every partition of the commands topic, in one transaction. Returns the order ids. */
async function openOrdersInTransaction(tag: string): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; ids.length < partitions; i += 1) {
    const id = unique(`${tag}-${i}`);
    if (!ids.some((other) => partitionFor(other, partitions) === partitionFor(id, partitions))) ids.push(id);
  }
  const messages: Message[] = await Promise.all(
    ids.map(async (id) => {
      const customerId = `${tag}-customer`;
      const command: OpenOrder = {
        customerId,
        metadata: { commandId: randomUUID(), aggregateId: id, correlationId: randomUUID(), issuedAt: Date.now(), expectedVersion: null, actor: { subject: customerId, roles: ['customer'] } },
      };
      return {
        key: id,
        value: await codec.encode(COMMANDS, 'restaurant.order.OpenOrder', command),
        partition: partitionFor(id, partitions),
        headers: { 'command-type': 'OpenOrder', 'correlation-id': command.metadata.correlationId },
      };
    }),
  );
  const transaction = await producer.transaction();
  await transaction.send({ topic: COMMANDS, acks: -1, messages });
  await transaction.commit();
  return ids;
}

/** Waits until every order is opened, and checks each was opened exactly once. */
async function expectOpenedOnce(ids: readonly string[]): Promise<void> {
  const ours = new Set(ids);
  const events = await waitFor('the orders opened', async () => {
    const found = (await readEvents(kafka, EVENTS)).filter((e) => ours.has(e.metadata.aggregateId));
    return new Set(found.map((e) => e.metadata.aggregateId)).size === ours.size ? found : undefined;
  });
  expect(events.map((e) => `${e.metadata.aggregateId} ${e.type}@${e.metadata.version}`).sort()).toEqual(ids.map((id) => `${id} OrderOpened@1`).sort());
}

/** Waits until the processor's metric and the group's offsets read a lag of 0 on every partition; then asks Kafka's tool. */
async function expectZeroLag(processor: RoleProcess, what: string): Promise<void> {
  await waitFor(
    `a lag of 0 ${what}`,
    async () => {
      const lag = lagFromMetrics(await (await fetch(`${processor.opsUrl}/metrics`)).text(), DEFAULT_GROUP, COMMANDS);
      const positions = await groupPositions(kafka, DEFAULT_GROUP, COMMANDS);
      const zero = lag.size === partitions && [...lag.values()].every((v) => v === 0) && [...positions.values()].every((p) => p.end > 0 && p.committed === p.end);
      return zero ? true : undefined;
    },
    20_000,
  );
  expect(lagFromConsumerGroups(DEFAULT_GROUP, COMMANDS)).toEqual(new Map(Array.from({ length: partitions }, (_, p): [number, string] => [p, '0'])));
}

describe('the command processor on a commands topic written in transactions', () => {
  it('shows a lag of 0 once caught up, after kill -9 and a restart too, and skips no command after the markers', async () => {
    const first = await startRole('command-processor');
    roles.push(first);
    const before = await openOrdersInTransaction('lag-before');
    await expectOpenedOnce(before);
    await expectZeroLag(first, 'while running');

    await first.kill();
    roles.splice(roles.indexOf(first), 1);
    const second = await startRole('command-processor');
    roles.push(second);
    await expectZeroLag(second, 'idle after kill -9 and a restart');

    const after = await openOrdersInTransaction('lag-after');
    await expectOpenedOnce(after);
    await expectOpenedOnce(before); // not decided again by the restarted processor
    await expectZeroLag(second, 'after a command written past the markers');
  });
});
