/**
 * Task groups (docs/stateful-runtime.md "Task groups"): the command definition's runtime with
 * `partitionsPerTask: 2` runs both partitions of the run's topics as one group, one producer
 * (`<group>.p0-1`, the processor's worker id) and one transaction per round of both tasks. Across a change of
 * grouping (k = 1, then k = 2) every command is decided once; a zombie of the old size (an open transaction
 * under `<group>.p<p>`) is fenced by the group's first producer, so it cannot commit and the restore does not
 * wait for its timeout; and another producer of the group's id fences the group, whose tasks restore and decide
 * what follows once. Real Kafka and registry, topics of their own.
 */
import { logLevel } from 'kafkajs';
import { AvroCodec } from '../../infra/kafka/codec';
import { fencedProducer } from '../../infra/kafka/transactions';
import { rootLogger } from '../../infra/logging';
import { waitFor } from '../../infra/wait-for';
import type { StatefulRuntime } from '../../infra/stateful/runtime';
import type { CommandInput } from '../../producers/command-processor/command-definition';
import type { CommandState } from '../../producers/command-processor/command-state';
import { partitionFor } from '../../schemas/partitioning';
import { testKafka, testRegistry, unique } from '../support/kafka';
import { createProcessorTopics, deleteProcessorTopics, PROCESSOR_PARTITIONS, processorTopics } from '../support/processor-crash';
import { addItem, logProblems, open, orderCommandRuntime, readLog, sendCommands, type Log } from '../support/command-definition';

jest.setTimeout(240_000);

const kafka = testKafka('it-command-definition-groups', logLevel.NOTHING);
const codec = new AvroCodec(testRegistry());
const logger = rootLogger.child({ test: 'command-definition-groups' });
logger.level = 'silent';
const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
const run = unique('it-cmddef-groups');
const t = processorTopics(run);
const prefix = `${t.groupId}.p`;
const orders = Array.from({ length: 8 }, (_, i) => `g-${i}`);
const runtimes: Array<StatefulRuntime<CommandState, CommandInput>> = [];

beforeAll(async () => {
  await createProcessorTopics(kafka, codec, run);
  await producer.connect();
});

afterAll(async () => {
  for (const r of runtimes) await r.stop().catch(() => undefined);
  await producer.disconnect();
  await deleteProcessorTopics(kafka, run);
});

async function started(partitionsPerTask: number): Promise<StatefulRuntime<CommandState, CommandInput>> {
  const runtime = orderCommandRuntime({ kafka, codec, logger, run, transactionalIdPrefix: prefix, partitionsPerTask });
  runtimes.push(runtime);
  await runtime.start();
  await waitFor('the definition ready', async () => (runtime.notReady() === undefined ? true : undefined), 120_000);
  return runtime;
}

const answered = (commandIds: readonly string[]): Promise<Log> =>
  waitFor(`${commandIds.length} commands answered`, async () => {
    const log = await readLog(kafka, codec, run);
    return commandIds.every((id) => log.replies.has(id)) ? log : undefined;
  }, 120_000);

it('the orders of both partitions', () => {
  expect(new Set(orders.map((o) => partitionFor(o, PROCESSOR_PARTITIONS)))).toEqual(new Set([0, 1]));
});

it('decides every command once across a change from one partition per task to groups of two, fencing a zombie of the old size', async () => {
  const single = await started(1);
  await sendCommands(producer, codec, run, orders.map((o) => open(o)));
  await answered(orders.map((o) => `c-${o}`));
  await single.stop();

  // A zombie of the old size: task 0's id with a transaction left open on the snapshots partition the group restores from.
  const zombie = await fencedProducer(kafka, `${prefix}0`);
  const open0 = await zombie.transaction();
  await open0.send({ topic: t.snapshots, acks: -1, messages: [{ key: 'zombie', value: Buffer.from('not a snapshot'), partition: 0 }] });

  const before = Date.now();
  const grouped = await started(2);
  // Fenced before the group restored: no wait for the zombie's transaction timeout (60 s), and its commit is refused.
  expect(Date.now() - before).toBeLessThan(45_000);
  await expect(open0.commit()).rejects.toThrow();
  await zombie.disconnect().catch(() => undefined);

  await sendCommands(producer, codec, run, orders.map((o) => addItem(o, 'm-1')));
  const log = await answered(orders.map((o) => `c-${o}-m-1`));
  for (const o of orders) expect(log.replies.get(`c-${o}-m-1`)).toEqual([expect.objectContaining({ status: 'ACCEPTED', aggregateVersion: 2 })]);
  expect(logProblems(log, t.events)).toEqual([]);
  expect(grouped.stats().partitions).toEqual([0, 1]);
  expect(grouped.stats().transactionsFailed).toBe(0);
});

it("another producer of the group's id fences the group; its tasks restore and decide what follows once", async () => {
  const grouped = runtimes.at(-1) as StatefulRuntime<CommandState, CommandInput>;
  const restores = grouped.stats().restores;
  // What a new owner of the group would do first.
  const owner = await fencedProducer(kafka, `${prefix}0-1`);
  await owner.disconnect();
  await sendCommands(producer, codec, run, orders.map((o) => addItem(o, 'm-2')));
  const log = await answered(orders.map((o) => `c-${o}-m-2`));
  expect(grouped.stats().transactionsFailed).toBeGreaterThanOrEqual(1);
  expect(grouped.stats().restores).toBeGreaterThan(restores);
  for (const o of orders) expect(log.replies.get(`c-${o}-m-2`)).toEqual([expect.objectContaining({ status: 'ACCEPTED', aggregateVersion: 3 })]);
  expect(logProblems(log, t.events)).toEqual([]);
});
