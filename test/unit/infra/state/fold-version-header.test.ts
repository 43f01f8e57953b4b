import { FOLD_VERSION_HEADER, foldVersionOf, traceOf } from '../../../../infra/state/changelog-restore';

describe('traceOf', () => {
  it("keeps a changelog record's trace headers as JSON, and null for a record without a trace", () => {
    const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    expect(traceOf({ headers: { traceparent: Buffer.from(traceparent), [FOLD_VERSION_HEADER]: Buffer.from('1') } })).toBe(JSON.stringify({ traceparent }));
    expect(traceOf({ headers: { [FOLD_VERSION_HEADER]: Buffer.from('1') } })).toBeNull();
    expect(traceOf({ headers: undefined })).toBeNull();
  });
});

describe('foldVersionOf', () => {
  it('reads the fold version a changelog record was stamped with', () => {
    expect(foldVersionOf({ headers: { [FOLD_VERSION_HEADER]: Buffer.from('7') } })).toBe(7);
    expect(foldVersionOf({ headers: { [FOLD_VERSION_HEADER]: [Buffer.from('3'), Buffer.from('4')] } })).toBe(3);
  });

  it('gives 0 (matching no real fold version) to a record without a usable stamp', () => {
    expect(foldVersionOf({ headers: {} })).toBe(0);
    expect(foldVersionOf({ headers: undefined })).toBe(0);
    expect(foldVersionOf({ headers: { [FOLD_VERSION_HEADER]: Buffer.from('two') } })).toBe(0);
    expect(foldVersionOf({ headers: { [FOLD_VERSION_HEADER]: Buffer.from('-1') } })).toBe(0);
  });
});
