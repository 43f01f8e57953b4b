import { assertNever } from '../../../kernel/assert-never';

describe('assertNever', () => {
  it('throws, naming what was not handled and the value, when a value the types ruled out arrives anyway', () => {
    const arrived = { type: 'FromTheFuture' } as never;
    expect(() => assertNever(arrived, 'order event')).toThrow('unhandled order event: {"type":"FromTheFuture"}');
  });
});
