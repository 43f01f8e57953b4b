/**
 * Records whose content depends on other records' offsets
 * (docs/stateful-runtime.md "Sequenced outputs"), against the real Kafka and
 * registry: order fulfilment on topics of the test's own, with its payment
 * requests declared `sequenced` (each task is its partition's only writer) and
 * an acknowledgement per request (a CommandReply on a replies topic) that
 * carries the request's offset. The first round of each task learns the
 * offsets (requests first); later rounds predict them and write in one pass;
 * after a foreign record lands in the requests partitions, the guesses miss,
 * the transactions are aborted and written again. Every acknowledgement names
 * the offset its request really has, and nothing is written twice. The state
 * remembers where each request landed (Decision.completeState): repeated
 * OrderPlaced events (in the same round, later, after a missed guess and after
 * a restart) are answered from it with the right offsets.
 */
import { logLevel } from 'kafkajs';
import { AvroCodec } from '../../infra/kafka/codec';
import { rootLogger } from '../../infra/logging';
import { waitFor } from '../../infra/wait-for';
import type { EmittedOffset, Outgoing } from '../../infra/stateful/definition';
import { ProcessManagerRuntime } from '../../consumers/process-managers/runtime/runtime';
import type { ProcessDefinition } from '../../consumers/process-managers/runtime/definition';
import type { FulfilmentInput } from '../../consumers/process-managers/order-fulfilment/order-fulfilment.workflow';
import type { CommandReply, OrderFulfilmentState } from '../../schemas/generated/types';
import { createTopicsAndWait, testKafka, testRegistry, unique, withAdmin } from '../support/kafka';
import { countBy, createFulfilmentTopics, fulfilmentTopicNames, orderEventsOf, placed, readRecords, type StoredRecord } from '../support/process-managers';
import { produceEnvelopes } from '../support/read-side';
import { crashTopics, fulfilment } from '../support/stateful-crash';

jest.setTimeout(240_000);

const kafka = testKafka('it-stateful-sequenced', logLevel.NOTHING);
const codec = new AvroCodec(testRegistry());
const logger = rootLogger.child({ test: 'stateful-sequenced' });
logger.level = 'silent';
const PARTITIONS = 6;
const REQUESTS = 'restaurant.payment.requests';
const REPLIES = 'restaurant.command-replies';
const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
const run = unique('it-seq');
const made = crashTopics(run);
const replies = `${run}.command-replies`;
let runtime: ProcessManagerRuntime<OrderFulfilmentState, FulfilmentInput> | undefined;

/** An acknowledgement of a payment request, carrying where the request landed. */
function acknowledgement(request: Outgoing, at: EmittedOffset): Outgoing {
  const value: CommandReply = {
    commandId: request.id,
    aggregateId: request.partitionKey,
    commandType: 'RequestPayment',
    status: 'ACCEPTED',
    events: [{ eventType: request.type, aggregateId: request.partitionKey, version: 1, topic: at.topic, partition: at.partition, offset: at.offset }],
    rejectionCode: null,
    rejectionMessage: null,
    aggregateVersion: 1,
    processedAt: 0,
  };
  return { topic: REPLIES, key: request.id, partitionKey: request.partitionKey, recordName: 'restaurant.common.CommandReply', value, id: `ack-${request.id}`, type: 'CommandReply', headers: {} };
}

/** Where a request was remembered to land, in the state's `emitted` (offset -1: decided, not completed yet). */
const ACK = 'ack:';
const remembered = (requestId: string, at: { readonly partition: number; readonly offset: number }): string => `${ACK}${requestId}@${at.partition}/${at.offset}`;
const NOT_YET = { partition: -1, offset: -1 };
function rememberedOf(state: OrderFulfilmentState): EmittedOffset[] {
  return state.emitted.filter((e) => e.startsWith(ACK)).map((e) => {
    const [id = '', where = ''] = e.slice(ACK.length).split('@');
    const [partition, offset] = where.split('/').map(Number);
    return { topic: REQUESTS, partition: partition ?? -1, offset: offset ?? -1, id };
  });
}

/**
 * Order fulfilment whose payment requests are sequenced, each acknowledged with
 * its offset; the state remembers where each request landed (completeState, as
 * the command processor remembers its replies), and a repeated OrderPlaced is
 * answered from the state (`again:` acknowledgements).
 */
function sequencedFulfilment(): ProcessDefinition<OrderFulfilmentState, FulfilmentInput> {
  const base = fulfilment(600_000);
  return {
    ...base,
    sequenced: [REQUESTS],
    decide(input, state) {
      const decision = base.decide(input, state);
      const requests = decision.emit.filter((o) => o.topic === REQUESTS);
      if (requests.length === 0) {
        if (decision.changed || input.type !== 'OrderPlaced' || rememberedOf(state).length === 0) return decision;
        // A repeat: answered from the state as the round writes it (completed with the offsets).
        return {
          ...decision,
          changed: true,
          after: (_offsets, completed) =>
            rememberedOf(completed).map((at) => {
              const request: Outgoing = { topic: REQUESTS, key: at.id, partitionKey: completed.orderId, recordName: 'PaymentRequested', value: {}, id: at.id, type: 'PaymentRequested', headers: {} };
              return { ...acknowledgement(request, at), key: `${AGAIN}${at.id}`, id: `${AGAIN}${at.id}` };
            }),
        };
      }
      // Remembered at once without the offset, completed with it within the transaction.
      const decided = { ...decision.state, emitted: [...decision.state.emitted, ...requests.map((r) => remembered(r.id, NOT_YET))] };
      return {
        ...decision,
        state: decided,
        after: (offsets) => offsets.map((at, i) => acknowledgement(requests[i] as Outgoing, at)),
        // A patch of the state as the round leaves it: the entry remembered without the offset, replaced.
        completeState: (s, offsets) => ({ ...s, emitted: s.emitted.map((e) => {
          const at = offsets.find((o) => e === remembered(o.id, NOT_YET));
          return at === undefined ? e : remembered(at.id, at);
        }) }),
      };
    },
  };
}
const AGAIN = 'again:';

async function place(orders: readonly string[]): Promise<void> {
  await produceEnvelopes(producer, codec, orderEventsOf(made, PARTITIONS), orders.map((o) => placed(o, { quantity: 1 })));
}

/** Waits for a request and an acknowledgement per order; checks each acknowledgement names its request's real offset. */
async function acknowledgedAtTheirOffsets(orders: readonly string[]): Promise<void> {
  const requests = await waitFor('a payment request per order', async () => {
    const found = (await readRecords(kafka, made.topics.paymentRequests, codec)).filter((r) => r.type === 'PaymentRequested');
    return orders.every((o) => found.some((r) => r.key === `${o}/1`)) ? found : undefined;
  }, 120_000);
  const acks = await waitFor('an acknowledgement per request', async () => {
    const found = (await readRecords(kafka, replies, codec)).filter((r) => !r.key.startsWith(AGAIN));
    return found.length >= requests.length ? found : undefined;
  }, 60_000);
  expect(requests).toHaveLength(orders.length);
  expect(acks).toHaveLength(requests.length);
  expect([...countBy(acks, (r) => r.key).values()].every((n) => n === 1)).toBe(true);
  const byEventId = new Map<string, StoredRecord>(requests.map((r) => [r.headers['event-id'] ?? '', r]));
  for (const ack of acks) {
    const request = byEventId.get(ack.key);
    const [event] = (ack.value as unknown as CommandReply).events;
    expect(request).toBeDefined();
    expect(event).toMatchObject({ topic: REQUESTS, partition: request?.partition, offset: request?.offset });
  }
}

/**
 * Waits for `total` answers from the state (`again:`) in all; checks each names
 * the partition and offset its request really has, and that every order in
 * `orders` was answered.
 */
async function answeredFromTheState(orders: readonly string[], total: number): Promise<void> {
  const requests = (await readRecords(kafka, made.topics.paymentRequests, codec)).filter((r) => r.type === 'PaymentRequested');
  const again = await waitFor(`${total} answers from the state`, async () => {
    const found = (await readRecords(kafka, replies, codec)).filter((r) => r.key.startsWith(AGAIN));
    return found.length >= total ? found : undefined;
  }, 60_000);
  expect(again).toHaveLength(total);
  const byEventId = new Map<string, StoredRecord>(requests.map((r) => [r.headers['event-id'] ?? '', r]));
  for (const answer of again) {
    const request = byEventId.get(answer.key.slice(AGAIN.length));
    const [event] = (answer.value as unknown as CommandReply).events;
    expect(request).toBeDefined();
    expect(event).toMatchObject({ topic: REQUESTS, partition: request?.partition, offset: request?.offset });
  }
  const answered = new Set(again.map((a) => (byEventId.get(a.key.slice(AGAIN.length))?.key ?? '').split('/')[0]));
  for (const order of orders) expect(answered.has(order)).toBe(true);
}

beforeAll(async () => {
  await createFulfilmentTopics(kafka, made, PARTITIONS);
  await createTopicsAndWait(kafka, [{ topic: replies, numPartitions: PARTITIONS, replicationFactor: 1 }]);
  await producer.connect();
});

afterAll(async () => {
  await runtime?.stop();
  await producer.disconnect();
  await withAdmin(kafka, async (admin) => {
    await admin.deleteGroups([made.groupId]).catch(() => undefined);
    await admin.deleteTopics({ topics: [...fulfilmentTopicNames(made), replies] }).catch(() => undefined);
  });
});

describe('sequenced outputs: records completed with the offsets of the records they follow', () => {
  it('learns the offsets, then predicts them; a wrong guess (a foreign record) is aborted and written again; every acknowledgement names its request, and so does the state', async () => {
    const start = async (): Promise<ProcessManagerRuntime<OrderFulfilmentState, FulfilmentInput>> => {
      const started = new ProcessManagerRuntime({ kafka, codec, logger, definition: sequencedFulfilment(), topicMap: { ...made.topicMap, [REPLIES]: replies }, groupId: made.groupId, offsetFlushMs: 200 });
      runtime = started;
      await started.start();
      return started;
    };
    let running = await start();
    const waves = [0, 1, 2, 3].map((w) => Array.from({ length: 12 }, (_, i) => `s${w}-${i + 1}`));
    let answers = 0;
    // First rounds learn; later ones predict. From wave 1 on, every OrderPlaced is sent twice in a row: the
    // repeat, in the same round or a later one, is answered from the state completed with the offsets.
    for (const [w, wave] of waves.slice(0, 3).entries()) {
      await place(w === 0 ? wave : wave.flatMap((o) => [o, o]));
      await acknowledgedAtTheirOffsets(waves.slice(0, w + 1).flat());
      if (w > 0) await answeredFromTheState(wave, (answers += wave.length));
    }
    expect(running.stats().offsetsPredicted).toBeGreaterThan(0);
    expect(running.stats().offsetGuessesMissed).toBe(0);
    // Wave 0 again: its states were completed in learning rounds.
    await place(waves[0] ?? []);
    await answeredFromTheState(waves[0] ?? [], (answers += 12));

    // Another writer in every requests partition: the next predictions miss.
    await producer.send({ topic: made.topics.paymentRequests, messages: Array.from({ length: PARTITIONS }, (_, p) => ({ key: 'foreign', value: null, partition: p })) });
    await place((waves[3] ?? []).flatMap((o) => [o, o]));
    await acknowledgedAtTheirOffsets(waves.flat());
    await answeredFromTheState(waves[3] ?? [], (answers += 12));
    expect(running.stats().offsetGuessesMissed).toBeGreaterThan(0);
    expect(running.stats().transactionsFailed).toBe(0);

    // A restart (its stores deleted at stop): the states read back from the changelog remember the right offsets.
    await running.stop();
    running = await start();
    await place(waves.flat());
    await answeredFromTheState(waves.flat(), (answers += waves.flat().length));
    expect(running.stats().transactionsFailed).toBe(0);
  });
});
