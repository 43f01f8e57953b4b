// The projector runtime's pure parts: batch encoding for the Lua script, the
// checkpoint hash, dead-letter headers, backoff, consistency tokens and roles.
import { backoffDelay, withRetries } from '../../../../../infra/consuming/backoff';
import { deadLetterHeaders } from '../../../../../infra/consuming/dead-letters';
import { checkpointField, encodeBatch, parseCheckpoint, withoutOverwritten } from '../../../../../consumers/projections/runtime/redis-batch';
import { parseBatchArgv } from '../../../../support/read-side';
import { projectionGroupId } from '../../../../../consumers/projections/runtime/read-models';
import { del, hdel, hincrby, hset, InvalidOpError, sadd, setJson, srem, zadd } from '../../../../../consumers/projections/shared/ops';
import { projectorsOf, roleConfig } from '../../../../../app/roles';
import { consistencyToken, nonexistentPosition, parseConsistencyToken, positionsBehind } from '../../../../../schemas/consistency-token';

describe('encodeBatch', () => {
  it('declares every key, checks types first, keeps the events in order, sends numbers as strings and the checkpoint it expects to find', () => {
    const encoded = encodeBatch(
      'ks',
      'sales',
      [
        { versionKey: 'rm:{ks}:sales:v:o1', version: 3, ops: [hincrby('rm:{ks}:sales:day:2025-01-01', 'orders', 1), setJson('rm:{ks}:sales:order:o1', { a: 1 })] },
        { versionKey: 'rm:{ks}:sales:v:o2', version: 1, ops: [hincrby('rm:{ks}:sales:day:2025-01-01', 'orders', 1)] },
        { versionKey: 'rm:{ks}:sales:v:o1', version: 4, ops: [del('rm:{ks}:sales:order:o1'), zadd('rm:{ks}:sales:z', 1.5, 'm')] },
      ],
      new Map([[checkpointField('restaurant.order.events', 2), { nextOffset: 17, expected: 12, consumedUpTo: 18 }]]),
    );
    expect(encoded.keys).toEqual(['rm:{ks}:sales:checkpoint', 'rm:{ks}:sales:rebuild', 'rm:{ks}:sales:v:o1', 'rm:{ks}:sales:day:2025-01-01', 'rm:{ks}:sales:order:o1', 'rm:{ks}:sales:v:o2', 'rm:{ks}:sales:z']);
    expect(parseBatchArgv(encoded.argv)).toEqual({
      t: [
        [1, 'hash'],
        [2, 'hash'],
        [3, 'string'],
        [4, 'hash'],
        [5, 'string'],
        [6, 'string'],
        [7, 'zset'],
      ],
      e: [
        // The document set at version 3 is deleted at version 4: only the counter and the delete are sent.
        [3, '3', [['HINCRBY', 4, 'orders', '1']]],
        [6, '1', [['HINCRBY', 4, 'orders', '1']]],
        [3, '4', [['DEL', 5], ['ZADD', 7, '1.5', 'm']]],
      ],
      c: [['restaurant.order.events:2', '17', '12', '18']],
    });
  });

  it('says "no checkpoint" as an empty expected value, and never reports reading less than it checkpoints', () => {
    const encoded = encodeBatch('ks', 'menu', [], new Map([['t:0', { nextOffset: 5, expected: undefined, consumedUpTo: 3 }]]));
    expect(parseBatchArgv(encoded.argv).c).toEqual([['t:0', '5', '', '5']]);
  });

  it('refuses a key used as two types and a version that is not positive', () => {
    expect(() => encodeBatch('ks', 'menu', [{ versionKey: 'v', version: 1, ops: [hset('k', { a: '1' }), setJson('k', 1)] }], new Map())).toThrow(InvalidOpError);
    expect(() => encodeBatch('ks', 'menu', [{ versionKey: 'v', version: 0, ops: [] }], new Map())).toThrow(InvalidOpError);
  });

  it('parses a checkpoint hash by the last colon (topics contain dots, not colons)', () => {
    const parsed = parseCheckpoint({ 'restaurant.order.events:0': '12', 'restaurant.order.events:5': '3', junk: 'x' });
    expect(parsed.get('restaurant.order.events')).toEqual(new Map([[0, 12], [5, 3]]));
    expect(parsed.size).toBe(1);
  });
});

describe('leaving out writes a later event of the same aggregate overwrites', () => {
  const v = 'rm:{ks}:orders:v:o1';
  it('keeps only the last document, the last value of each hash field and the last word on each member', () => {
    const out = withoutOverwritten([
      { versionKey: v, version: 1, ops: [setJson('doc', { n: 1 }), hset('h', { a: '1', b: '1' }), sadd('s', 'x')] },
      { versionKey: v, version: 2, ops: [setJson('doc', { n: 2 }), hset('h', { a: '2' }), srem('s', 'x')] },
      { versionKey: v, version: 3, ops: [setJson('doc', { n: 3 }), hdel('h', 'a')] },
    ]);
    expect(out.map((w) => w.ops)).toEqual([[hset('h', { b: '1' })], [srem('s', 'x')], [setJson('doc', { n: 3 }), hdel('h', 'a')]]);
    expect(out.map((w) => w.version)).toEqual([1, 2, 3]);
  });

  it('never leaves out a counter, unless the key is deleted after it', () => {
    const out = withoutOverwritten([
      { versionKey: v, version: 1, ops: [hincrby('c', 'n', 1), hincrby('d', 'n', 1)] },
      { versionKey: v, version: 2, ops: [hincrby('c', 'n', 1), del('d')] },
    ]);
    expect(out.map((w) => w.ops)).toEqual([[hincrby('c', 'n', 1)], [hincrby('c', 'n', 1), del('d')]]);
  });

  it('lets only an event above every earlier version stand in for earlier writes (a repeat could be skipped)', () => {
    const out = withoutOverwritten([
      { versionKey: v, version: 5, ops: [setJson('doc', 'five')] },
      { versionKey: v, version: 5, ops: [setJson('doc', 'five again')] },
      { versionKey: v, version: 4, ops: [setJson('doc', 'four')] },
    ]);
    expect(out.map((w) => w.ops)).toEqual([[setJson('doc', 'five')], [setJson('doc', 'five again')], [setJson('doc', 'four')]]);
  });

  it('applies the same rule inside one event, whatever its version', () => {
    const out = withoutOverwritten([{ versionKey: v, version: 1, ops: [hset('h', { a: '1' }), hset('h', { a: '2' }), sadd('s', 'x'), srem('s', 'x')] }]);
    expect(out[0]?.ops).toEqual([hset('h', { a: '2' }), srem('s', 'x')]);
  });
});

describe('dead letters', () => {
  it('keep the original headers and say where they came from and why', () => {
    const headers = deadLetterHeaders(
      { topic: 't', partition: 3, offset: 42, key: null, value: Buffer.from('x'), headers: { 'event-type': 'OrderPlaced' }, reason: 'not-avro', error: 'bad magic' },
      'restaurant.projection.orders',
    );
    expect(headers).toEqual({
      'event-type': 'OrderPlaced',
      'dlq-reason': 'not-avro',
      'dlq-error': 'bad magic',
      'dlq-topic': 't',
      'dlq-partition': '3',
      'dlq-offset': '42',
      'dlq-consumer-group': 'restaurant.projection.orders',
    });
  });
});

describe('retries', () => {
  it('back off exponentially up to a cap', () => {
    const policy = { attempts: 6, initialDelayMs: 100, maxDelayMs: 500 };
    expect([2, 3, 4, 5, 6].map((n) => backoffDelay(policy, n))).toEqual([100, 200, 400, 500, 500]);
  });

  it('stop after the last attempt, or at once when the error is not worth retrying', async () => {
    let calls = 0;
    const failing = async (): Promise<never> => {
      calls += 1;
      throw new Error('boom');
    };
    await expect(withRetries({ attempts: 3, initialDelayMs: 1, maxDelayMs: 1 }, failing)).rejects.toThrow('boom');
    expect(calls).toBe(3);
    calls = 0;
    await expect(withRetries({ attempts: 3, initialDelayMs: 1, maxDelayMs: 1 }, failing, undefined, () => false)).rejects.toThrow('boom');
    expect(calls).toBe(1);
  });
});

describe('consistency tokens', () => {
  it('round-trip the highest offset per partition', () => {
    const token = consistencyToken([
      { topic: 'a', partition: 0, offset: 5 },
      { topic: 'a', partition: 0, offset: 7 },
      { topic: 'b', partition: 2, offset: 1 },
    ]);
    expect(token).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(parseConsistencyToken(token)).toEqual({
      ok: true,
      positions: [
        { topic: 'a', partition: 0, offset: 7 },
        { topic: 'b', partition: 2, offset: 1 },
      ],
    });
  });

  it('reject what is not a token', () => {
    for (const bad of ['', 'not base64!', Buffer.from('[1]').toString('base64url'), Buffer.from('{"a":{"x":1}}').toString('base64url'), Buffer.from('{"a":{"0":-1}}').toString('base64url')]) {
      expect(parseConsistencyToken(bad).ok).toBe(false);
    }
  });

  it('name only topics and partitions that exist', () => {
    const partitionsOf = (topic: string) => (topic === 'a' ? 6 : undefined);
    expect(nonexistentPosition([{ topic: 'a', partition: 5, offset: 1 }], partitionsOf)).toBeNull();
    expect(nonexistentPosition([{ topic: 'a', partition: 6, offset: 1 }], partitionsOf)).toMatch(/partition 6 of a, which has 6 partitions/);
    expect(nonexistentPosition([{ topic: 'a', partition: 0, offset: 1 }, { topic: '__proto__', partition: 0, offset: 1 }], partitionsOf)).toMatch(/topic "__proto__"/);
  });

  it('are reached once the checkpoint is past the offset', () => {
    const positions = [{ topic: 'a', partition: 0, offset: 7 }];
    expect(positionsBehind(positions, new Map([['a', new Map([[0, 7]])]]))).toEqual(positions);
    expect(positionsBehind(positions, new Map([['a', new Map([[0, 8]])]]))).toEqual([]);
    expect(positionsBehind(positions, new Map())).toEqual(positions);
  });
});

describe('roles', () => {
  it('run one projector, all of them, or everything', () => {
    expect(projectorsOf(roleConfig({ ROLE: 'projector:sales' }).role)).toEqual(['sales']);
    expect(projectorsOf(roleConfig({ ROLE: 'projectors' }).role)).toEqual(['menu', 'customers', 'orders', 'kitchen', 'sales']);
    expect(projectorsOf(roleConfig({}).role)).toHaveLength(5);
    expect(projectorsOf(roleConfig({ ROLE: 'query' }).role)).toEqual([]);
    expect(() => roleConfig({ ROLE: 'projector:nope' })).toThrow(/is not one of/);
    expect(() => roleConfig({ READ_MODEL_KEYSPACE: 'Bad Space' })).toThrow(/keyspace/);
    expect(roleConfig({}).queryPort).toBe(3001);
  });

  it("refuse a COMMAND_ENGINE other than the runtime on the roles that run the command processor, and say the old engine's stores are read", () => {
    expect(() => roleConfig({ COMMAND_ENGINE: 'processor' })).toThrow(/own engine was removed.*reads the stores/);
    expect(() => roleConfig({ ROLE: 'command-processor', COMMAND_ENGINE: 'processor' })).toThrow(/COMMAND_ENGINE=processor/);
    expect(() => roleConfig({ ROLE: 'commands', COMMAND_ENGINE: 'processor' })).toThrow(/COMMAND_ENGINE=processor/);
    expect(roleConfig({ ROLE: 'command-processor', COMMAND_ENGINE: 'runtime' }).role).toBe('command-processor');
    expect(roleConfig({ ROLE: 'gateway', COMMAND_ENGINE: 'processor' }).role).toBe('gateway');
  });

  it('give the live keyspace the plain group name and a rebuild its own', () => {
    expect(projectionGroupId('orders', 'live')).toBe('restaurant.projection.orders');
    expect(projectionGroupId('orders', 'green')).toBe('restaurant.projection.orders.green');
  });
});
