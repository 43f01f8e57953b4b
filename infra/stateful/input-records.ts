// How a round sorts the records of an input batch beyond deciding them
// (docs/stateful-runtime.md "Parking"): records of a type the definition does
// not handle, dead-lettered when it asks (`unhandled: 'dead-letter'`), and
// operators' requests read on the input topic itself
// (`parking.requestsOnInput`), decided in order between the inputs around them.
import type { DecodedRecord } from '../consuming/batch-sink';
import type { DeadLetter } from '../consuming/dead-letters';

export const PARKING_REQUEST_TYPE = 'ParkingRequest';

/** A record the definition does not handle, as a dead letter (`unknown-record`, as the command processor's). */
export const unhandledLetter = (record: DecodedRecord, name: string): DeadLetter => ({
  topic: record.topic,
  partition: record.partition,
  offset: record.offset,
  key: record.key,
  value: record.rawValue,
  headers: record.headers,
  reason: 'unknown-record',
  error: `${record.fullName} is not handled by ${name}`,
});
