import { deterministicId } from '../../../kernel/deterministic-id';

describe('deterministicId', () => {
  it('derives the same id from the same cause and different ids from different causes', () => {
    expect(deterministicId('a', '0')).toBe(deterministicId('a', '0'));
    expect(deterministicId('a', '0')).not.toBe(deterministicId('a', '1'));
  });

  it('keeps the parts apart: ("ab", "c") is not ("a", "bc")', () => {
    expect(deterministicId('ab', 'c')).not.toBe(deterministicId('a', 'bc'));
  });

  it('is shaped like a version-5 UUID with the RFC 4122 variant', () => {
    expect(deterministicId('a', '0')).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});
