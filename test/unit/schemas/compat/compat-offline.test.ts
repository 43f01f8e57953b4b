import { Type } from 'avsc';
import { readerProblem, checkBackwardTransitive } from '../../../../schemas/compat/offline';
import { buildSchemaSet, type SchemaSet } from '../../../../schemas/loader';

const TS = { type: 'long', logicalType: 'timestamp-millis' };

/** A tiny schema set: an event with an enum field, in the project's layout. */
function schemaSet(extraFields: object[], symbols: string[] = ['UNKNOWN', 'MAIN', 'DESSERT']): SchemaSet {
  const dish = { type: 'enum', name: 'Course', namespace: 'restaurant.test', doc: 'Course.', symbols, default: 'UNKNOWN' };
  const event = {
    type: 'record',
    name: 'DishServed',
    namespace: 'restaurant.test',
    doc: 'A dish was served.',
    fields: [
      { name: 'dishId', type: 'string', doc: 'Dish.' },
      { name: 'servedAt', type: TS, doc: 'When.' },
      { name: 'course', type: 'restaurant.test.Course', doc: 'Course.', default: 'UNKNOWN' },
      ...extraFields,
    ],
  };
  return buildSchemaSet([
    { path: 'restaurant/test/Course.avsc', text: JSON.stringify(dish) },
    { path: 'restaurant/test/DishServed.avsc', text: JSON.stringify(event) },
  ]);
}

const v1 = schemaSet([]);
const history = [{ source: 'v1', schemas: v1 }];

describe('offline BACKWARD_TRANSITIVE check', () => {
  it('accepts an unchanged schema', () => {
    expect(checkBackwardTransitive(v1, history).problems).toEqual([]);
  });
  it('accepts a field added with a default', () => {
    const v2 = schemaSet([{ name: 'table', type: ['null', 'string'], doc: 'Table.', default: null }]);
    const report = checkBackwardTransitive(v2, history);
    expect(report.problems).toEqual([]);
    expect(report.comparisons).toBe(1);
  });
  it('rejects a field added without a default, naming the type and the field', () => {
    const v2 = schemaSet([{ name: 'table', type: 'string', doc: 'Table.' }]);
    expect(checkBackwardTransitive(v2, history).problems).toEqual([
      { fullName: 'restaurant.test.DishServed', against: 'v1', reason: expect.stringContaining('restaurant.test.DishServed.table') },
    ]);
  });
  it('rejects a removed enum symbol even though the enum has a default (history must not be rewritten)', () => {
    const v2 = schemaSet([], ['UNKNOWN', 'MAIN']);
    expect(checkBackwardTransitive(v2, history).problems).toEqual([
      { fullName: 'restaurant.test.Course', against: 'v1', reason: expect.stringContaining('DESSERT') },
    ]);
  });
  it('accepts an added enum symbol', () => {
    expect(checkBackwardTransitive(schemaSet([], ['UNKNOWN', 'MAIN', 'DESSERT', 'DRINK']), history).problems).toEqual([]);
  });
  it('checks against every earlier version, not only the last (transitive)', () => {
    const v2 = schemaSet([{ name: 'table', type: ['null', 'string'], doc: 'Table.', default: null }]);
    // v3 adds a required `waiter`: neither v2 nor v1 data can be read; both are reported.
    const v3 = schemaSet([{ name: 'table', type: ['null', 'string'], doc: 'Table.', default: null }, { name: 'waiter', type: 'string', doc: 'Waiter.' }]);
    const report = checkBackwardTransitive(v3, [
      { source: 'v2', schemas: v2 },
      { source: 'v1', schemas: v1 },
    ]);
    expect(report.problems.map((p) => p.against)).toEqual(['v2', 'v1']);
  });
  it('notes a type that disappeared', () => {
    const onlyEnum = buildSchemaSet([{ path: 'restaurant/test/Course.avsc', text: JSON.stringify(v1.get('restaurant.test.Course').raw) }]);
    expect(checkBackwardTransitive(onlyEnum, history).notes).toEqual([expect.stringContaining('restaurant.test.DishServed existed in v1')]);
  });
});

describe('readerProblem (avsc resolver)', () => {
  const enumV1 = Type.forSchema({ type: 'enum', name: 'Course', symbols: ['MAIN', 'DESSERT'] });
  it('rejects a removed symbol when the enum has no default', () => {
    const enumV2 = Type.forSchema({ type: 'enum', name: 'Course', symbols: ['MAIN'] });
    expect(readerProblem(enumV2, enumV1)).not.toBeNull();
  });
  it('accepts a removed symbol when the reader has a default (Avro semantics)', () => {
    const enumV2 = Type.forSchema({ type: 'enum', name: 'Course', symbols: ['UNKNOWN', 'MAIN'], default: 'UNKNOWN' });
    expect(readerProblem(enumV2, enumV1)).toBeNull();
  });
  it('rejects a changed field type that cannot be promoted', () => {
    const before = Type.forSchema({ type: 'record', name: 'R', fields: [{ name: 'n', type: 'string' }] });
    const after = Type.forSchema({ type: 'record', name: 'R', fields: [{ name: 'n', type: 'long' }] });
    expect(readerProblem(after, before)).not.toBeNull();
  });
});
