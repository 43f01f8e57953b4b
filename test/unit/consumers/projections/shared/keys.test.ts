import {
  assertKeyspace,
  checkpointKey,
  InvalidKeyspaceError,
  readModelPattern,
  readModelPrefix,
  versionKey,
} from '../../../../../consumers/projections/shared/keys';

describe('read-model key layout', () => {
  it('puts the keyspace in a hash tag and the read model right after it', () => {
    expect(readModelPrefix('blue', 'menu')).toBe('rm:{blue}:menu:');
    expect(versionKey('live', 'orders', 'o-1')).toBe('rm:{live}:orders:v:o-1');
    expect(checkpointKey('live', 'sales')).toBe('rm:{live}:sales:checkpoint');
    expect(readModelPattern('green-2', 'kitchen')).toBe('rm:{green-2}:kitchen:*');
  });

  it.each(['', 'Blue', 'a b', '-x', 'a}b', 'x'.repeat(33)])('rejects the keyspace %j', (keyspace) => {
    expect(() => assertKeyspace(keyspace)).toThrow(InvalidKeyspaceError);
  });
});
