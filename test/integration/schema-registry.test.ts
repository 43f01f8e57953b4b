import { SchemaType } from '@kafkajs/confluent-schema-registry';
import { createTopicsAndWait, testKafka, testRegistry, unique } from '../support/kafka';

const kafka = testKafka('registry-test');
const registry = testRegistry();

const probeV1 = {
  type: 'record',
  name: 'StackProbe',
  namespace: 'restaurant.test',
  doc: 'A record used only to prove the registry round trip.',
  fields: [
    { name: 'id', type: 'string', doc: 'An identifier.' },
    { name: 'amountMinor', type: 'long', doc: 'Money in minor units.' },
  ],
};

describe('the schema registry with the Confluent client', () => {
  it('registers under an explicit subject, and what it encodes survives Kafka and decodes', async () => {
    const topic = unique('it.registry-roundtrip');
    const subject = `${topic}-restaurant.test.StackProbe`; // TopicRecordNameStrategy
    const { id } = await registry.register({ type: SchemaType.AVRO, schema: JSON.stringify(probeV1) }, { subject });
    expect(await registry.getLatestSchemaId(subject)).toBe(id);

    const value = await registry.encode(id, { id: 'order-1', amountMinor: 1250 });
    expect(value.readUInt8(0)).toBe(0); // Confluent wire format: magic byte, then the schema id
    expect(value.readInt32BE(1)).toBe(id);

    await createTopicsAndWait(kafka, [{ topic, numPartitions: 1 }]);
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic, messages: [{ key: 'order-1', value }] });
    await producer.disconnect();

    const consumer = kafka.consumer({ groupId: unique('it.registry-group') });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    const received = await new Promise<Buffer>((resolve, reject) => {
      consumer.run({ eachMessage: async ({ message }) => (message.value ? resolve(message.value) : reject(new Error('empty value'))) }).catch(reject);
    });
    await consumer.disconnect();

    // A fresh client has no cache: it must fetch the writer schema by the id in the message.
    expect(await testRegistry().decode(received)).toEqual({ id: 'order-1', amountMinor: 1250 });
  });

  it('keeps the subject at the compatibility level the client asked for and refuses an incompatible change', async () => {
    const subject = unique('it.registry-compat') + '-restaurant.test.StackProbe';
    await registry.register({ type: SchemaType.AVRO, schema: JSON.stringify(probeV1) }, { subject });
    const compatible = { ...probeV1, fields: [...probeV1.fields, { name: 'note', type: 'string', default: '', doc: 'Added later.' }] };
    const breaking = { ...probeV1, fields: [...probeV1.fields, { name: 'required', type: 'int', doc: 'No default.' }] };
    const v2 = await registry.register({ type: SchemaType.AVRO, schema: JSON.stringify(compatible) }, { subject });
    expect(await registry.getLatestSchemaId(subject)).toBe(v2.id);
    await expect(
      registry.register({ type: SchemaType.AVRO, schema: JSON.stringify(breaking) }, { subject }),
    ).rejects.toThrow(/incompatible/i);
    expect(await registry.getLatestSchemaId(subject)).toBe(v2.id);
  });
});
