import type { KafkaMessage } from 'kafkajs';
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import { AvroCodec, DecodeError } from '../../../../infra/kafka/codec';
import { topicCatalog } from '../../../../schemas/topics';
import { AGGREGATE_PARKED, commandParkingContext, decideRequest, LaneParking, parkLetter, refusal } from '../../../../producers/command-processor/parking';

const TOPIC = 'restaurant.order.commands';
const lane = (): LaneParking => new LaneParking('order-commands', commandParkingContext(topicCatalog(), TOPIC, 'g', () => 1_000));
const message = (offset: number, key: string): KafkaMessage => ({ offset: String(offset), key: Buffer.from(key), value: Buffer.from([0, 0, 0, 0, 1, 0x7f]), headers: {}, timestamp: '0', attributes: 0 });
const command = (aggregateId: string) => ({ metadata: { commandId: `c-${aggregateId}`, aggregateId, correlationId: 'x', issuedAt: 0, expectedVersion: null, actor: null } });
const corrupt = new DecodeError('corrupt', 'cut short');
// Only a redrive decodes; these tests do not reach the registry.
const codec = new AvroCodec(new SchemaRegistry({ host: 'http://127.0.0.1:9' }));
const request = (action: 'skip' | 'redrive', processId: string) => ({ requestId: `r-${action}`, action, processId, position: null, actor: 'op', why: 'because', at: 5 });

describe("the command processor's parking", () => {
  it('parks the aggregate a dead letter names, refuses its later commands, and decides the others and those before the head', () => {
    const parking = lane();
    const part = parking.part();
    parkLetter(parking, part, TOPIC, 2, message(10, 'o-a'), corrupt);
    expect(part.park.map((p) => [p.processId, p.role, p.reason, p.offset])).toEqual([['o-a', 'head', 'corrupt', 10]]);
    const refused = refusal(parking, part, TOPIC, 2, message(11, 'o-a'), 'restaurant.order.OpenOrder', command('o-a'), 'order', 3, 2_000);
    expect(refused).toMatchObject({ status: 'REJECTED', rejectionCode: AGGREGATE_PARKED, aggregateId: 'o-a', commandType: 'OpenOrder', aggregateVersion: 3, events: [] });
    expect(refused?.rejectionMessage).toContain(`${TOPIC}:2:10`);
    expect(refusal(parking, part, TOPIC, 2, message(12, 'o-b'), 'restaurant.order.OpenOrder', command('o-b'), 'order', 0, 2_000)).toBeUndefined();
    expect(refusal(parking, part, TOPIC, 2, message(9, 'o-a'), 'restaurant.order.OpenOrder', command('o-a'), 'order', 0, 2_000)).toBeUndefined();
    // Refused, not parked behind: the client has its answer.
    expect(part.park).toHaveLength(1);
    expect(parking.parked.size).toBe(0);
    parking.commit(part);
    expect([...parking.parked.keys()]).toEqual(['o-a']);
    expect(parking.inputs).toBe(1);
  });

  it('parks nothing for a dead letter whose key names no aggregate (an undecodable request)', () => {
    const parking = lane();
    const part = parking.part();
    parkLetter(parking, part, TOPIC, 0, message(1, 'request/r-1'), corrupt);
    parkLetter(parking, part, TOPIC, 0, message(2, ''), corrupt);
    expect(part.park).toEqual([]);
  });

  it('a skip unparks the aggregate once; a second one and a redrive of nothing parked find nothing', async () => {
    const parking = lane();
    const first = parking.part();
    parkLetter(parking, first, TOPIC, 2, message(10, 'o-a'), corrupt);
    parking.commit(first);
    const part = parking.part();
    expect(await decideRequest(codec, () => true, request('skip', 'o-a'), part)).toEqual([]);
    expect(await decideRequest(codec, () => true, request('skip', 'o-a'), part)).toEqual([]);
    expect(await decideRequest(codec, () => true, request('redrive', 'o-a'), part)).toEqual([]);
    expect(part.requests.map((r) => [r.request.action, r.outcome.outcome, r.outcome.events])).toEqual([
      ['skip', 'skipped', [`${TOPIC}:2:10`]],
      ['skip', 'not-parked', []],
      ['redrive', 'not-parked', []],
    ]);
    expect(part.unpark.map((p) => p.offset)).toEqual([10]);
    expect(parking.parked.size).toBe(1); // until the transaction commits
    parking.commit(part);
    expect(parking.parked.size).toBe(0);
  });

  it('a redrive decides the parked commands when the current decoder reads them, and keeps the aggregate parked when it does not', async () => {
    const parking = lane();
    const first = parking.part();
    parkLetter(parking, first, TOPIC, 2, message(10, 'o-a'), corrupt);
    parking.commit(first);
    // A decoder that cannot read the bytes yet, then one that can (a schema registered, a fix deployed).
    const broken = { decode: async () => Promise.reject(new DecodeError('corrupt', 'still cut short')) } as unknown as AvroCodec;
    const fixed = { decode: async () => ({ fullName: 'restaurant.order.OpenOrder', schemaId: 1, value: { customerId: 'c-1', ...command('o-a') } }) } as unknown as AvroCodec;
    const part = parking.part();
    expect(await decideRequest(broken, () => true, request('redrive', 'o-a'), part)).toEqual([]);
    expect(part.parkedOf('o-a')).toHaveLength(1);
    const redriven = await decideRequest(fixed, (name) => name === 'restaurant.order.OpenOrder', request('redrive', 'o-a'), part);
    expect(redriven.map((c) => [c.fullName, c.value.metadata.aggregateId])).toEqual([['restaurant.order.OpenOrder', 'o-a']]);
    expect(part.requests.map((r) => [r.outcome.outcome, r.outcome.applied])).toEqual([
      ['failed', 0],
      ['redriven', 1],
    ]);
    expect(part.requests[0]?.outcome.error).toContain('still cut short');
    expect(part.parkedOf('o-a')).toBeUndefined();
    expect(part.unpark.map((p) => p.offset)).toEqual([10]);
  });
});
