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

/** A run of a batch: inputs (with the dead letters among them), or one operator's request. */
export type BatchRun = { readonly records: DecodedRecord[]; readonly letters: DeadLetter[] } | { readonly request: DecodedRecord };

/**
 * The batch cut at its operators' requests, in offset order: each request a
 * run of its own, the inputs and dead letters between two requests a run (so
 * a request acts on what was parked before it and not on what came after).
 */
export function splitAtRequests(records: readonly DecodedRecord[], letters: readonly DeadLetter[]): BatchRun[] {
  const sorted = [...letters].sort((a, b) => a.offset - b.offset);
  const out: BatchRun[] = [];
  let run: { records: DecodedRecord[]; letters: DeadLetter[] } = { records: [], letters: [] };
  let next = 0;
  for (const record of records) {
    if (record.type !== PARKING_REQUEST_TYPE) {
      run.records.push(record);
      continue;
    }
    while (next < sorted.length && (sorted[next]?.offset ?? Infinity) < record.offset) run.letters.push(sorted[next++] as DeadLetter);
    if (run.records.length > 0 || run.letters.length > 0) out.push(run);
    out.push({ request: record });
    run = { records: [], letters: [] };
  }
  run.letters.push(...sorted.slice(next));
  if (run.records.length > 0 || run.letters.length > 0) out.push(run);
  return out;
}
