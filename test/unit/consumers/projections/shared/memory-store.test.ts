import { MemoryStore } from '../../../../../consumers/projections/shared/memory-store';
import { del, hdel, hincrby, hset, InvalidOpError, keysOf, sadd, setJson, srem, zadd, zrem } from '../../../../../consumers/projections/shared/ops';

describe('MemoryStore interprets the op algebra with Redis semantics', () => {
  it('sets, overwrites and deletes hash fields; an emptied hash disappears', () => {
    const store = new MemoryStore();
    store.applyAll([hset('h', { a: '1', b: '2' }), hset('h', { b: '3' })]);
    expect(store.hgetall('h')).toEqual({ a: '1', b: '3' });
    store.apply(hdel('h', 'a', 'b'));
    expect(store.keys()).toEqual([]);
  });

  it('HINCRBY starts at 0, goes negative, keeps "0" and refuses non-integers', () => {
    const store = new MemoryStore();
    store.applyAll([hincrby('c', 'n', 5), hincrby('c', 'n', -7)]);
    expect(store.hget('c', 'n')).toBe('-2');
    store.apply(hincrby('c', 'n', 2));
    expect(store.hgetall('c')).toEqual({ n: '0' });
    store.apply(hset('c', { text: 'x' }));
    expect(() => store.apply(hincrby('c', 'text', 1))).toThrow(/not an integer/);
  });

  it('orders a sorted set by score then member, both ways, with inclusive and negative ranges', () => {
    const store = new MemoryStore();
    store.applyAll([zadd('z', 2, 'b'), zadd('z', 1, 'c'), zadd('z', 2, 'a'), zadd('z', 3, 'd')]);
    expect(store.zrangeWithScores('z').map((e) => e.member)).toEqual(['c', 'a', 'b', 'd']);
    expect(store.zrevrange('z')).toEqual(['d', 'b', 'a', 'c']);
    expect(store.zrevrange('z', 1, 2)).toEqual(['b', 'a']);
    expect(store.zrevrange('z', -1, -1)).toEqual(['c']);
    expect(store.zrevrange('z', 3, 10)).toEqual(['c']);
    expect(store.zrevrange('z', 5, 10)).toEqual([]);
    store.apply(zadd('z', 0, 'd'));
    expect(store.zrangeWithScores('z', 0, 0)).toEqual([{ member: 'd', score: 0 }]);
    for (const m of ['a', 'b', 'c', 'd']) store.apply(zrem('z', m));
    expect(store.zcard('z')).toBe(0);
    expect(store.keys()).toEqual([]);
  });

  it('adds to and removes from sets; JSON strings round-trip; DEL removes any type', () => {
    const store = new MemoryStore();
    store.applyAll([sadd('s', 'x'), sadd('s', 'x'), sadd('s', 'y'), srem('s', 'x'), setJson('j', { a: [1, null] })]);
    expect(store.smembers('s')).toEqual(['y']);
    expect(store.getJson('j')).toEqual({ a: [1, null] });
    store.applyAll([del('s'), del('j'), del('missing')]);
    expect(store.keys()).toEqual([]);
  });

  it('refuses an op on a key of another type (WRONGTYPE)', () => {
    const store = new MemoryStore();
    store.apply(sadd('k', 'x'));
    expect(() => store.apply(hset('k', { a: '1' }))).toThrow(/WRONGTYPE/);
  });

  it('applies guarded ops only for a version newer than the recorded one', () => {
    const store = new MemoryStore();
    expect(store.applyGuarded('v:a', 1, [hincrby('c', 'n', 1)])).toBe('applied');
    expect(store.applyGuarded('v:a', 1, [hincrby('c', 'n', 1)])).toBe('skipped');
    expect(store.applyGuarded('v:a', 3, [hincrby('c', 'n', 1)])).toBe('applied');
    expect(store.applyGuarded('v:a', 2, [hincrby('c', 'n', 1)])).toBe('skipped');
    expect(store.applyGuarded('v:b', 1, [hincrby('c', 'n', 1)])).toBe('applied');
    expect(store.dump()).toEqual({ c: { n: '3' }, 'v:a': '3', 'v:b': '1' });
    expect(() => store.applyGuarded('v:a', 0, [])).toThrow(/positive integer/);
  });
});

describe('op constructors refuse what Redis would refuse or corrupt', () => {
  it.each([
    ['an hset without fields', () => hset('h', {})],
    ['an hdel without fields', () => hdel('h')],
    ['a fractional increment', () => hincrby('h', 'f', 1.5)],
    ['an increment beyond 2^53', () => hincrby('h', 'f', 2 ** 53)],
    ['a non-finite score', () => zadd('z', Number.NaN, 'm')],
  ])('%s', (_label, build) => {
    expect(build).toThrow(InvalidOpError);
  });

  it('lists the keys an op list touches, once each', () => {
    expect(keysOf([hset('b', { x: '1' }), sadd('a', 'x'), del('b')])).toEqual(['a', 'b']);
  });
});
