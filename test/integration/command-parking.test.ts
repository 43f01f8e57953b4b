/**
 * The command processor parks by aggregate (docs/command-side.md "Parked
 * aggregates"), on the real stack: an undecodable command for order A (a
 * valid wire header, a body that is no OrderOpened... under its subject) parks
 * A; the two valid commands sent for A after it are answered
 * `aggregate_parked` at once and write no event, while orders B..E get theirs.
 * A restarted processor still refuses A (the parked state is in the committed
 * log). A redrive with the same decoder fails and keeps A parked; a skip (with
 * a reason) unparks it, and a new command for A is decided; a second skip and
 * a second redrive find nothing parked. Every action is recorded on
 * restaurant.dead-letter-actions.
 */
import { randomUUID } from 'node:crypto';
import { logLevel } from 'kafkajs';
import { KafkaCommandBus } from '../../producers/command-bus/kafka-command-bus';
import type { CommandEnvelope, CommandOutcome } from '../../producers/gateway/command-bus';
import { AvroCodec } from '../../infra/kafka/codec';
import { rootLogger } from '../../infra/logging';
import type { Actor, DeadLetterAction } from '../../schemas/generated/types';
import type { OrderCommand } from '../../schemas/messages';
import { DEAD_LETTER_ACTIONS_TOPIC, topicName, topicCatalog } from '../../schemas/topics';
import { partitionFor } from '../../schemas/partitioning';
import { readEvents } from '../support/events';
import { testKafka, testRegistry, unique } from '../support/kafka';
import { waitFor } from '../../infra/wait-for';
import { readToEnd } from '../../infra/kafka/read-to-end';
import { startRole, type RoleProcess } from '../../app/chaos/role-process';
import { listProcesses, parkingTargetOf, redriveProcesses, skipProcessInput } from '../../consumers/process-managers/redrive/redrive';
import { AGGREGATE_PARKED } from '../../producers/command-processor/command-records';

jest.setTimeout(240_000);

const kafka = testKafka('it-command-parking', logLevel.NOTHING);
const codec = new AvroCodec(testRegistry());
const logger = rootLogger.child({ test: 'command-parking' });
logger.level = 'silent';
const bus = new KafkaCommandBus({ kafka, codec, logger });
const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
const target = parkingTargetOf('order-commands');
let processor: RoleProcess | undefined;

const ada: Actor = { subject: unique('c-ada'), roles: ['customer'] };
const open: OrderCommand = { type: 'OpenOrder', data: { customerId: ada.subject } };
const soup: OrderCommand = { type: 'AddItemToOrder', data: { menuItemId: 'm-soup', menuItemName: 'Soup', quantity: 1, unitPrice: { amountMinor: 450, currency: 'EUR' } } };

type Final = Exclude<CommandOutcome, { status: 'pending' }>;

const envelopeOf = (aggregateId: string, command: OrderCommand): CommandEnvelope => ({
  aggregate: 'order',
  command,
  metadata: { commandId: randomUUID(), aggregateId, correlationId: randomUUID(), issuedAt: Date.now(), expectedVersion: null, actor: ada },
});

async function send(aggregateId: string, command: OrderCommand): Promise<Final> {
  const envelope = envelopeOf(aggregateId, command);
  const first = await bus.send(envelope, { waitMs: 20_000 });
  if (first.status !== 'pending') return first;
  return waitFor(`the outcome of ${command.type} on ${aggregateId}`, async () => {
    const outcome = await bus.outcome(envelope.metadata.commandId);
    return outcome === undefined || outcome.status === 'pending' ? undefined : outcome;
  }, 60_000);
}

/** An OpenOrder's wire header (a real schema id under the subject) with a body cut short: no Avro record. */
async function undecodable(aggregateId: string): Promise<Buffer> {
  const topic = topicName('order', 'commands');
  const valid = await codec.encode(topic, 'restaurant.order.OpenOrder', { ...open.data, metadata: envelopeOf(aggregateId, open).metadata });
  return Buffer.concat([valid.subarray(0, 5), Buffer.from([0x7f])]);
}

const eventTypes = async (ids: readonly string[]): Promise<Map<string, string[]>> => {
  const out = new Map<string, string[]>(ids.map((id) => [id, []]));
  for (const e of await readEvents(kafka, topicName('order', 'events'))) out.get(e.metadata.aggregateId)?.push(e.type);
  return out;
};

async function actionsOf(aggregateId: string): Promise<DeadLetterAction[]> {
  const out: DeadLetterAction[] = [];
  await readToEnd(kafka, [{ topic: DEAD_LETTER_ACTIONS_TOPIC }], async ({ message }) => {
    if (message.key?.toString() !== aggregateId || message.value === null) return;
    out.push((await codec.decode(message.value)).value as DeadLetterAction);
  });
  return out;
}

const tools = () => ({ kafka, codec, producer, actor: 'it-operator', why: 'the command was cut short by a buggy client', timeoutMs: 60_000 });

beforeAll(async () => {
  processor = await startRole('command-processor');
  await Promise.all([bus.start(), producer.connect()]);
});

afterAll(async () => {
  await Promise.all([bus.stop(), producer.disconnect()]);
  if (processor !== undefined) await processor.stop();
});

it('parks an aggregate behind its undecodable command, refuses its later commands while others flow, and unparks it by a recorded skip, once', async () => {
  const a = unique('o-park-a');
  const others = ['b', 'c', 'd', 'e'].map((x) => unique(`o-park-${x}`));
  const commands = topicCatalog().topic(topicName('order', 'commands'));
  await producer.send({ topic: commands.name, acks: -1, messages: [{ key: a, value: await undecodable(a), partition: partitionFor(a, commands.partitions) }] });

  const [firstForA, secondForA, ...forOthers] = await Promise.all([send(a, open), send(a, soup), ...others.map((id) => send(id, open))]);
  expect([firstForA, secondForA].map((o) => o.status === 'rejected' && o.code)).toEqual([AGGREGATE_PARKED, AGGREGATE_PARKED]);
  expect(firstForA.status === 'rejected' && firstForA.message).toMatch(/parked behind a command that could not be decoded/);
  expect(forOthers.map((o) => o.status)).toEqual(others.map(() => 'accepted'));
  const events = await eventTypes([a, ...others]);
  expect(events.get(a)).toEqual([]);
  expect(others.map((id) => events.get(id))).toEqual(others.map(() => ['OrderOpened']));

  const listed = await listProcesses({ kafka, codec }, target, { processId: a });
  expect(listed.map((p) => [p.processId, p.reason, p.inputs])).toEqual([[a, 'corrupt', 1]]);

  // Parked in the committed log: a restarted processor still refuses A.
  expect(await (processor as RoleProcess).stop()).toBe(0);
  processor = await startRole('command-processor');
  expect(await send(a, open)).toMatchObject({ status: 'rejected', code: AGGREGATE_PARKED });

  // The same decoder: the redrive fails, nothing is decided, A stays parked.
  const [failed] = await redriveProcesses(tools(), target, { aggregateId: a });
  expect(failed).toMatchObject({ outcome: 'failed', applied: 0 });
  expect(await send(a, open)).toMatchObject({ status: 'rejected', code: AGGREGATE_PARKED });

  expect(await skipProcessInput(tools(), target, a, undefined)).toMatchObject({ outcome: 'skipped' });
  expect(await send(a, open)).toMatchObject({ status: 'accepted', aggregateVersion: 1 });
  // Again: nothing is parked, nothing changes.
  expect(await skipProcessInput(tools(), target, a, undefined)).toMatchObject({ outcome: 'not-parked' });
  expect((await redriveProcesses(tools(), target, { aggregateId: a }))[0]).toMatchObject({ outcome: 'not-parked', applied: 0 });
  expect((await eventTypes([a])).get(a)).toEqual(['OrderOpened']);
  expect(await listProcesses({ kafka, codec }, target, { processId: a })).toEqual([]);

  const recorded = await actionsOf(a);
  expect(recorded.map((r) => [r.action, r.outcome, r.actor, r.readModel])).toEqual([
    ['redrive', 'failed', 'it-operator', 'order-commands'],
    ['skip', 'skipped', 'it-operator', 'order-commands'],
    ['skip', 'not-parked', 'it-operator', 'order-commands'],
    ['redrive', 'not-parked', 'it-operator', 'order-commands'],
  ]);
});
