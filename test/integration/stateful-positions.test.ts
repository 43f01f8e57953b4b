/**
 * The stateful runtime with its positions in the changelog
 * (docs/stateful-runtime.md "Positions"): order fulfilment with
 * `positions: 'changelog'`, on topics of the test's own, every payment left
 * unanswered so every order times out, against the real Kafka and registry,
 * with a real kill -9 of a child process running it:
 *
 * - killed between a round's commit and its store write (the child with the
 *   decoupled fetch, the default): the changelog holds the round's
 *   checkpoint, and no group offset is past a checkpoint (the lag report,
 *   outside the transactions, comes from the committed positions, whatever
 *   the child had fetched); the next owner restores the checkpoint with the
 *   states and decides every order once;
 * - killed mid-stream, then restarted cleanly: no order decided twice, none
 *   lost; the group's offsets (the lag report, outside the transactions)
 *   reach the inputs' ends, past the trailing marker of a transactional
 *   producer's write.
 */
import { logLevel } from 'kafkajs';
import { AvroCodec } from '../../infra/kafka/codec';
import { rootLogger } from '../../infra/logging';
import { waitFor } from '../../infra/wait-for';
import { checkpointKeyOf, isCheckpointKey } from '../../infra/stateful/position-store';
import { ProcessManagerRuntime } from '../../consumers/process-managers/runtime/runtime';
import type { FulfilmentInput } from '../../consumers/process-managers/order-fulfilment/order-fulfilment.workflow';
import type { OrderFulfilmentState } from '../../schemas/generated/types';
import { testKafka, testRegistry, withAdmin } from '../support/kafka';
import { committedUpTo, endOffsets, orderEventsOf, placed, readRecords, type StoredRecord } from '../support/process-managers';
import { produceEnvelopes } from '../support/read-side';
import { CrashHarness } from '../support/crash-harness';
import { crashTopics, fulfilment, type CrashChild } from '../support/stateful-crash';

jest.setTimeout(240_000);

const kafka = testKafka('it-stateful-positions', logLevel.NOTHING);
const codec = new AvroCodec(testRegistry());
const logger = rootLogger.child({ test: 'stateful-positions' });
logger.level = 'silent';
const PARTITIONS = 6;
const TIMEOUT_MS = 15_000;
const harness = new CrashHarness(kafka, codec, 'it-stateful-positions', PARTITIONS, { POSITIONS: 'changelog' });
type Runtime = ProcessManagerRuntime<OrderFulfilmentState, FulfilmentInput>;
type Made = ReturnType<typeof crashTopics>;
const tempDir = (): string => harness.tempDir();
const topicsOfRun = (): ReturnType<CrashHarness['topicsOfRun']> => harness.topicsOfRun('it-pos');
const child = (args: string[]): CrashChild => harness.child(args);
const kill = (run: CrashChild): Promise<void> => harness.kill(run);
const stop = (runtime: Runtime): Promise<void> => harness.stop(runtime);
const place = (made: Made, orders: readonly string[]): Promise<void> => harness.place(made, orders);

function inProcess(made: Made, stateDir: string): Promise<Runtime> {
  const definition = { ...fulfilment(TIMEOUT_MS), positions: 'changelog' as const };
  return harness.started(new ProcessManagerRuntime({ kafka, codec, logger, definition, topicMap: made.topicMap, groupId: made.groupId, stateDir, offsetFlushMs: 200 }));
}

const requestsOf = async (made: Made): Promise<StoredRecord[]> => (await readRecords(kafka, made.topics.paymentRequests, codec)).filter((r) => r.type === 'PaymentRequested');

/** The group's committed offset of `topic`'s partitions (absent: none). */
async function groupOffsets(made: Made, topic: string): Promise<Map<number, number>> {
  const fetched = await withAdmin(kafka, (admin) => admin.fetchOffsets({ groupId: made.groupId, topics: [topic] }));
  return new Map((fetched[0]?.partitions ?? []).filter((p) => Number(p.offset) >= 0).map((p) => [p.partition, Number(p.offset)]));
}

/** The last checkpoint of the order events in each changelog partition: partition -> its nextOffset. */
async function checkpointsOf(made: Made): Promise<Map<number, number>> {
  const key = checkpointKeyOf(made.groupId, made.topics.orderEvents);
  const records = (await readRecords(kafka, made.topics.changelog, codec)).filter((r) => r.key === key).sort((a, b) => a.offset - b.offset);
  return new Map(records.map((r) => [r.partition, Number(r.value?.nextOffset)]));
}

/** Every order decided once (crash-harness.ts), and every partition that decided something holds its checkpoints. */
async function everyOrderDecidedOnce(made: Made, orders: readonly string[]): Promise<void> {
  const changelog = await harness.everyOrderDecidedOnce(made, orders, (r) => !isCheckpointKey(r.key));
  // CommandCheckpoints keyed by group and input topic.
  const checkpoints = changelog.filter((r) => isCheckpointKey(r.key));
  expect(checkpoints.every((r) => r.type === 'CommandCheckpoint')).toBe(true);
  for (const p of new Set(changelog.filter((r) => !isCheckpointKey(r.key)).map((r) => r.partition))) {
    expect(checkpoints.some((r) => r.partition === p && r.key === checkpointKeyOf(made.groupId, made.topics.orderEvents))).toBe(true);
  }
}

beforeAll(() => harness.start());
afterAll(() => harness.cleanUp());

describe('the stateful runtime with its positions in the changelog', () => {
  it('killed between a commit and its store write: the checkpoint committed with the outputs, no group offset past it; the next owner decides every order once', async () => {
    const made = await topicsOfRun();
    const orders = Array.from({ length: 12 }, (_, i) => `o-${i + 1}`);
    const stateDir = tempDir();
    // The child runs in the default, the decoupled fetch: it fetches and queues ahead of what it decides.
    const partition = await harness.killedAfterCommit(made, orders, stateDir, TIMEOUT_MS);

    // The round's transaction wrote the position as a checkpoint record in the changelog partition...
    const changelog = (await readRecords(kafka, made.topics.changelog, codec)).filter((r) => r.partition === partition);
    const checkpoint = changelog.find((r) => r.key === checkpointKeyOf(made.groupId, made.topics.orderEvents));
    expect(checkpoint?.value).toMatchObject({ groupId: made.groupId, commandTopic: made.topics.orderEvents, partition });
    expect(Number(checkpoint?.value?.nextOffset)).toBeGreaterThan(0);
    expect(changelog.some((r) => !isCheckpointKey(r.key))).toBe(true);
    // ...and the group's offsets, the lag report committed outside the transactions, are nowhere past a checkpoint:
    // they come from what the committed transactions covered (docs/stateful-runtime.md "Positions").
    const checkpoints = await checkpointsOf(made);
    const past = [...(await groupOffsets(made, made.topics.orderEvents))].filter(([p, offset]) => offset > (checkpoints.get(p) ?? -1));
    expect(past).toEqual([]);
    expect(checkpoints.get(partition)).toBe(Number(checkpoint?.value?.nextOffset));

    // The checkpoints are the truth, whatever the group says: with its offsets moved to the ends (an operator's reset),
    // the next owner still starts at the checkpoint and loses none of the orders past it.
    await waitFor('the killed member to leave the group', async () => withAdmin(kafka, async (admin) => ((await admin.describeGroups([made.groupId])).groups[0]?.state === 'Empty' ? true : undefined)), 60_000);
    const high = (await endOffsets(kafka, [made.topics.orderEvents])).get(made.topics.orderEvents) ?? new Map<number, number>();
    await withAdmin(kafka, (admin) => admin.setOffsets({ groupId: made.groupId, topic: made.topics.orderEvents, partitions: [...high].map(([p, offset]) => ({ partition: p, offset: String(offset) })) }));

    const survivor = await inProcess(made, stateDir);
    await everyOrderDecidedOnce(made, orders);
    expect(survivor.stats()).toMatchObject({ instances: orders.length, pendingDeadlines: 0 });
    // The lag report (outside the transactions) brings the group's offsets to the inputs' ends.
    const ends = await endOffsets(kafka, [made.topics.orderEvents]);
    await waitFor('the group offsets to reach the ends', async () => ((await committedUpTo(kafka, made.groupId, ends)) ? true : undefined), 30_000);
  });

  it('killed mid-stream and restarted: no order decided twice or lost, and the lag report reaches the end past a trailing marker', async () => {
    const made = await topicsOfRun();
    const waves = [0, 1, 2, 3].map((w) => Array.from({ length: 8 }, (_, i) => `k${w}-${i + 1}`));
    const stateDir = tempDir();
    const doomed = child(['run', made.run, stateDir, String(TIMEOUT_MS)]);
    await waitFor('the child to own every partition', async () => (doomed.lines.includes('owns 0,1,2,3,4,5') ? true : undefined), 90_000);
    // Waves while it runs; it dies once it has decided part of them, the next wave arriving meanwhile.
    await place(made, waves[0] ?? []);
    await place(made, waves[1] ?? []);
    await waitFor('the child to decide part of the stream', async () => ((await requestsOf(made)).length >= 10 ? true : undefined), 90_000);
    const placing = place(made, waves[2] ?? []);
    await kill(doomed);
    await placing;

    const survivor = await inProcess(made, stateDir);
    await everyOrderDecidedOnce(made, waves.slice(0, 3).flat());
    await stop(survivor);

    // A clean restart on the same stores; the last wave comes from a transactional producer, so each partition it
    // wrote ends with a commit marker that no batch delivers.
    const restarted = await inProcess(made, stateDir);
    const txProducer = kafka.producer({ transactionalId: `${made.run}.tx`, idempotent: true, maxInFlightRequests: 1 });
    await txProducer.connect();
    const transaction = await txProducer.transaction();
    await produceEnvelopes(transaction, codec, orderEventsOf(made, PARTITIONS), (waves[3] ?? []).map((o) => placed(o, { quantity: 1 })));
    await transaction.commit();
    await txProducer.disconnect();
    await everyOrderDecidedOnce(made, waves.flat());
    expect(restarted.stats()).toMatchObject({ instances: waves.flat().length, pendingDeadlines: 0 });
    const ends = await endOffsets(kafka, [made.topics.orderEvents]);
    await waitFor('the group offsets to reach the ends, past the markers', async () => ((await committedUpTo(kafka, made.groupId, ends)) ? true : undefined), 30_000);
  });
});
