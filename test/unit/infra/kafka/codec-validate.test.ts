// AvroCodec.validate (infra/kafka/codec.ts): what the stateful runtime checks a
// state with when its encoding waits for its completion (infra/stateful/round.ts).
// It must refuse what encoding refuses, and accept what encoding accepts.
import type { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import { AvroCodec } from '../../../../infra/kafka/codec';
import { loadSchemas } from '../../../../schemas/loader';

const NAME = 'restaurant.order.OrderConfirmed';

describe('validating a value against this build\'s schema', () => {
  const schemas = loadSchemas();
  // validate and encodeWithId never ask the registry.
  const codec = new AvroCodec({} as SchemaRegistry, schemas);

  it('accepts what encodes and refuses what does not, naming the field', () => {
    const valid = schemas.get(NAME).type.random() as unknown as { metadata: Record<string, unknown> };
    expect(() => codec.validate(NAME, valid)).not.toThrow();
    expect(codec.encodeWithId(1, NAME, valid).length).toBeGreaterThan(5);

    const invalid = { ...valid, metadata: { ...valid.metadata, version: 'not a number' } };
    expect(() => codec.encodeWithId(1, NAME, invalid)).toThrow();
    expect(() => codec.validate(NAME, invalid)).toThrow(`invalid ${NAME}: metadata.version`);
    expect(() => codec.validate(NAME, undefined)).toThrow(`invalid ${NAME}`);
  });
});
