/**
 * The chaos verifier's trail of an order without an outcome (app/chaos/trail.ts),
 * read from the real Kafka and registry: order fulfilment's ConfirmOrder on
 * restaurant.order.commands and its state on its changelog, as the roles
 * encode them, and no reply. The trail names the processor as where the order
 * stopped, which is what chaos seed 7's report could not say.
 */
import { logLevel } from 'kafkajs';
import { AvroCodec } from '../../infra/kafka/codec';
import { allTopicSpecs, applyTopics } from '../../infra/kafka/topics';
import { readOrderTrails, TRAIL_TOPICS } from '../../app/chaos/trail';
import { decide, initialState } from '../../consumers/process-managers/order-fulfilment/order-fulfilment.workflow';
import { fulfilmentMessage } from '../../consumers/process-managers/order-fulfilment/order-fulfilment.process';
import { partitionFor } from '../../schemas/partitioning';
import { testKafka, testRegistry, unique, withAdmin } from '../support/kafka';
import { orderMeta, placed } from '../support/process-managers';
import { config } from '../../infra/config';

jest.setTimeout(60_000);

const kafka = testKafka('it-chaos-trail', logLevel.NOTHING);
const codec = new AvroCodec(testRegistry());
const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
const STATE_RECORD = 'restaurant.fulfilment.OrderFulfilmentState';

beforeAll(async () => {
  await withAdmin(kafka, (admin) => applyTopics(admin, allTopicSpecs().filter((t) => (Object.values(TRAIL_TOPICS) as string[]).includes(t.name))));
  await producer.connect();
});

afterAll(async () => {
  await producer.disconnect();
});

describe("the chaos verifier's trail of an order", () => {
  it('names a ConfirmOrder order fulfilment wrote that the processor never answered', async () => {
    const orderId = unique('trail-order');
    const { event } = placed(orderId);
    // Order fulfilment's own decisions: placed (payment requested), then authorized (ConfirmOrder).
    const started = decide({ type: 'OrderPlaced', data: event.data, metadata: orderMeta(orderId, 5), facts: { customerExists: true, menuItems: { 'm-1': 'AVAILABLE' } } }, initialState(orderId));
    const { paymentId, amount } = started.state;
    if (paymentId === null || amount === null) throw new Error('order fulfilment requested no payment');
    const confirmed = decide({ type: 'PaymentAuthorized', data: { orderId, paymentId, amount }, metadata: orderMeta(orderId, 1, `auth-${orderId}`) }, started.state);
    const [command] = confirmed.emit.filter((e) => e.kind === 'command').map(fulfilmentMessage);
    if (command === undefined) throw new Error('order fulfilment emitted no command on the payment');
    expect(command.type).toBe('ConfirmOrder');
    const partitions = config().topics.partitions;
    const send = async (topic: string, key: string, recordName: string, value: unknown): Promise<void> => {
      await producer.send({ topic, messages: [{ key, partition: partitionFor(orderId, partitions), value: await codec.encode(topic, recordName, value) }] });
    };
    await send(command.topic, command.key, command.recordName, command.value);
    await send(TRAIL_TOPICS.fulfilment, orderId, STATE_RECORD, confirmed.state);

    const trails = await readOrderTrails(kafka, config().registry.url, [orderId], []);
    const trail = trails[orderId] ?? [];
    expect(trail[0]).toMatch(new RegExp(`^stopped: the processor never decided ConfirmOrder at ${TRAIL_TOPICS.commands}/\\d+@\\d+: no reply`));
    expect(trail.join('\n')).toContain(`order fulfilment state v2 at ${TRAIL_TOPICS.fulfilment}/`);
    expect(trail.join('\n')).toContain('CONFIRMED, payment 1 request(s), authorized');
  });
});
