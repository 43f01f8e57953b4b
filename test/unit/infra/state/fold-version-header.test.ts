import { FOLD_VERSION_HEADER, foldVersionOf } from '../../../../infra/state/changelog-restore';

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
