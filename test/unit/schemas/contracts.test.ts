import { readFileSync } from 'node:fs';
import { generateTypes, GENERATED_TYPES_PATH } from '../../../schemas/codegen';
import { buildSchemaSet, loadSchemas, SchemaError, type SchemaSource } from '../../../schemas/loader';
import { recordFixtures } from '../../support/schema-fixtures';

const schemas = loadSchemas();

describe('generated TypeScript types', () => {
  it('match the .avsc files (run `npm run schemas:gen` after changing a schema)', () => {
    expect(readFileSync(GENERATED_TYPES_PATH, 'utf8')).toBe(generateTypes(schemas));
  });
});

describe('every record round-trips through Avro', () => {
  const records = schemas.all.filter((s) => s.avroType === 'record');

  it('has a fixture for every record and no stale ones', () => {
    expect(Object.keys(recordFixtures).sort()).toEqual(records.map((s) => s.fullName));
  });
  it.each(records.map((s) => [s.fullName, s] as const))('%s', (fullName, schema) => {
    const fixture = recordFixtures[fullName as keyof typeof recordFixtures];
    expect(schema.type.isValid(fixture)).toBe(true);
    const decoded: unknown = schema.type.fromBuffer(schema.type.toBuffer(fixture));
    expect(decoded).toEqual(fixture);
  });
  it('keeps timestamps as epoch millis, not Date', () => {
    const placed = schemas.get('restaurant.order.OrderPlaced');
    const decoded = placed.type.fromBuffer(placed.type.toBuffer(recordFixtures['restaurant.order.OrderPlaced'])) as { metadata: { occurredAt: unknown } };
    expect(decoded.metadata.occurredAt).toBe(1_767_225_600_000);
  });
});

describe('expanded schemas', () => {
  it('are self-contained: each parses on its own and keeps enum defaults and logical types', () => {
    const snapshot = schemas.get('restaurant.menu.MenuItemSnapshot').schemaText;
    expect(snapshot).toContain('"default":"UNKNOWN"');
    const event = schemas.get('restaurant.menu.MenuItemAdded').schemaText;
    expect(event).toContain('"logicalType":"timestamp-millis"');
    expect(event).not.toMatch(/"type":"restaurant\.common\.EventMetadata"/);
  });
  it('inline a type referenced twice only once', () => {
    const changed = schemas.get('restaurant.menu.MenuItemPriceChanged').schemaText;
    expect(changed.match(/"name":"Money"/g)).toHaveLength(1);
  });
});

describe('classification', () => {
  it('finds events, commands, snapshots and the reply by shape', () => {
    expect(schemas.get('restaurant.order.OrderPlaced').kind).toBe('event');
    expect(schemas.get('restaurant.order.PlaceOrder').kind).toBe('command');
    expect(schemas.get('restaurant.order.OrderSnapshot').kind).toBe('snapshot');
    expect(schemas.get('restaurant.common.CommandReply').kind).toBe('reply');
    expect(schemas.get('restaurant.fulfilment.OrderFulfilmentState').kind).toBe('state');
    expect(schemas.get('restaurant.common.Money').kind).toBe('type');
    expect(schemas.ofKind('snapshot').map((s) => s.name)).toEqual(['CustomerSnapshot', 'EmailReservationSnapshot', 'MenuItemSnapshot', 'OrderSnapshot']);
  });
});

describe('the loader rejects schemas that break the house rules', () => {
  const source = (path: string, schema: object): SchemaSource => ({ path, text: JSON.stringify(schema) });
  const money = source('restaurant/common/Money.avsc', {
    type: 'record',
    name: 'Money',
    namespace: 'restaurant.common',
    doc: 'm',
    fields: [{ name: 'amountMinor', type: 'long', doc: 'a' }],
  });
  const problemsOf = (sources: SchemaSource[]): string => {
    try {
      buildSchemaSet(sources);
    } catch (err) {
      if (err instanceof SchemaError) return err.message;
      throw err;
    }
    return 'no problems';
  };

  it('accepts a well-formed set', () => {
    expect(problemsOf([money])).toBe('no problems');
  });
  it.each<[string, SchemaSource, string]>([
    ['a missing field doc', source('restaurant/x/A.avsc', { type: 'record', name: 'A', namespace: 'restaurant.x', doc: 'd', fields: [{ name: 'f', type: 'string' }] }), 'restaurant.x.A.f: missing "doc"'],
    ['a missing record doc', source('restaurant/x/A.avsc', { type: 'record', name: 'A', namespace: 'restaurant.x', fields: [] }), 'restaurant.x.A: missing "doc"'],
    ['an enum without default', source('restaurant/x/E.avsc', { type: 'enum', name: 'E', namespace: 'restaurant.x', doc: 'd', symbols: ['A'] }), 'enum needs a "default"'],
    ['a file at the wrong path', source('restaurant/y/A.avsc', { type: 'record', name: 'A', namespace: 'restaurant.x', doc: 'd', fields: [] }), 'must live in restaurant/x/A.avsc'],
    ['an unknown reference', source('restaurant/x/A.avsc', { type: 'record', name: 'A', namespace: 'restaurant.x', doc: 'd', fields: [{ name: 'f', type: 'restaurant.x.Nope', doc: 'f' }] }), 'unknown type "restaurant.x.Nope"'],
    ['a short reference', source('restaurant/x/A.avsc', { type: 'record', name: 'A', namespace: 'restaurant.x', doc: 'd', fields: [{ name: 'f', type: 'Money', doc: 'f' }] }), 'must be a full name'],
    ['an inline named type', source('restaurant/x/A.avsc', { type: 'record', name: 'A', namespace: 'restaurant.x', doc: 'd', fields: [{ name: 'f', type: { type: 'enum', name: 'E', symbols: ['A'] }, doc: 'f' }] }), 'must live in their own .avsc'],
    ['an optional field without default null', source('restaurant/x/A.avsc', { type: 'record', name: 'A', namespace: 'restaurant.x', doc: 'd', fields: [{ name: 'f', type: ['null', 'string'], doc: 'f' }] }), 'need "default": null'],
    ['a union that is not optional', source('restaurant/x/A.avsc', { type: 'record', name: 'A', namespace: 'restaurant.x', doc: 'd', fields: [{ name: 'f', type: ['string', 'long'], doc: 'f' }] }), 'unions must be ["null", T]'],
  ])('%s', (_label, bad, problem) => {
    expect(problemsOf([money, bad])).toContain(problem);
  });
});
