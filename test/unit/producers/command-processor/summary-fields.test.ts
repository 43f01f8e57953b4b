// A restore reads a command state's summary from two fields of its snapshot
// (command-definition.ts `summaryOfFields`, codec `decodeFields`): the same
// summary as decoding the whole snapshot into the state and asking its status.
import type { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import { AvroCodec } from '../../../../infra/kafka/codec';
import { stateRow } from '../../../../infra/stateful/partition-state';
import { loadSchemas } from '../../../../schemas/loader';
import { aggregateRuntimes } from '../../../../producers/command-processor/aggregates';
import { commandDefinition } from '../../../../producers/command-processor/command-definition';
import { benchTopics, orderSnapshot } from '../../../../bench/state/topic-set';

const ORDER = 'restaurant.order.OrderSnapshot';
const schemas = loadSchemas();
// A stand-in registry: schema id 7 is this build's OrderSnapshot.
const registry = { getSchema: (id: number) => (id === 7 ? Promise.resolve(schemas.get(ORDER).type) : Promise.reject(new Error(`no schema ${id}`))) } as unknown as SchemaRegistry;
const definition = commandDefinition({ runtime: aggregateRuntimes({ order: { maxOrderTotalMinor: 1_000_000 } }).order });
const { summaryOfFields, ...whole } = definition;

describe('command states summarized from their snapshot fields', () => {
  it('decodes only the fields asked for, of the record the bytes hold', async () => {
    const codec = new AvroCodec(registry, schemas);
    const bytes = codec.encodeWithId(7, ORDER, orderSnapshot(42, benchTopics(100, 6), 3, 1_700_000_000_000));
    const decoded = await codec.decodeFields(bytes, ['version', 'status', 'not-a-field']);
    expect(decoded.fullName).toBe(ORDER);
    expect(decoded.value).toEqual({ version: 10, status: 'DELIVERED' });
  });

  it.each(['DELIVERED', 'PLACED', 'CANCELLED'])('gives the summary the whole state gives (%s)', async (status) => {
    expect(summaryOfFields?.fields).toEqual(['version', 'status']);
    const codec = new AvroCodec(registry, schemas);
    const value = codec.encodeWithId(7, ORDER, { ...orderSnapshot(7, benchTopics(100, 6), 1, 1_700_000_000_000), status });
    const change = { key: 'order-bench-00000007', value, foldVersion: 1 };
    const byFields = await stateRow(codec, definition)(change);
    const byWhole = await stateRow(codec, whole)(change);
    expect(byFields.summary).toEqual({ label: status, due: null });
    expect(byFields.summary).toEqual(byWhole.summary);
  });
});
