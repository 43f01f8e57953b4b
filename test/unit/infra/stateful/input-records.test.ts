// Sorting an input batch's records beyond deciding them (infra/stateful/input-records.ts): operators' requests read
// on the input cut the batch into runs, in offset order, dead letters with the run they fall in; unhandled records
// as `unknown-record` dead letters.
import type { DecodedRecord } from '../../../../infra/consuming/batch-sink';
import type { DeadLetter } from '../../../../infra/consuming/dead-letters';
import { splitAtRequests, unhandledLetter } from '../../../../infra/stateful/input-records';

const record = (offset: number, type = 'AddItemToOrder'): DecodedRecord => ({ topic: 'cmds', partition: 0, offset, key: Buffer.from('o-1'), rawValue: Buffer.from('x'), headers: {}, type, fullName: `restaurant.order.${type}`, value: {} });
const letter = (offset: number): DeadLetter => ({ topic: 'cmds', partition: 0, offset, key: Buffer.from('o-1'), value: Buffer.from('?'), headers: {}, reason: 'corrupt', error: 'x' });
const shape = (runs: ReturnType<typeof splitAtRequests>) => runs.map((r) => ('request' in r ? `request@${r.request.offset}` : `inputs ${r.records.map((x) => x.offset).join(',')} letters ${r.letters.map((l) => l.offset).join(',')}`));

describe('input records', () => {
  it('cuts a batch at its requests, each dead letter in the run it falls in', () => {
    const runs = splitAtRequests([record(1), record(3, 'ParkingRequest'), record(4), record(6, 'ParkingRequest'), record(8, 'ParkingRequest'), record(9)], [letter(7), letter(2), letter(5), letter(10)]);
    expect(shape(runs)).toEqual(['inputs 1 letters 2', 'request@3', 'inputs 4 letters 5', 'request@6', 'inputs  letters 7', 'request@8', 'inputs 9 letters 10']);
  });

  it('leaves a batch without requests whole, and an empty one empty', () => {
    expect(shape(splitAtRequests([record(1), record(2)], [letter(0)]))).toEqual(['inputs 1,2 letters 0']);
    expect(splitAtRequests([], [])).toEqual([]);
  });

  it('makes an unhandled record an unknown-record dead letter with its raw bytes', () => {
    expect(unhandledLetter(record(5, 'OrderOpened'), 'order-commands')).toMatchObject({ offset: 5, value: Buffer.from('x'), reason: 'unknown-record', error: 'restaurant.order.OrderOpened is not handled by order-commands' });
  });
});
