/**
 * The offset a command processor lane reports to its group: past trailing
 * transaction markers only once every command read is decided, never past a
 * command, and never across a range it has not read.
 */
import type { KafkaMessage } from 'kafkajs';
import { readThrough, reportedOffset } from '../../../../producers/command-processor/lane-position';

const command = (offset: number): KafkaMessage => ({ offset: String(offset) }) as KafkaMessage;

function lane(at: number) {
  return { committed: at, queuedUpTo: at, readUpTo: at, queue: [] as KafkaMessage[] };
}

describe('a command lane position', () => {
  it('reports the checkpoint until something past it has been read', () => {
    expect(reportedOffset(lane(10))).toBe(10);
  });

  it('reports past a trailing commit marker once the commands before it are decided', () => {
    const l = lane(10);
    // Commands 10..12 and the commit marker at 13 fetched together: queued, not decided yet.
    l.queue.push(command(10), command(11), command(12));
    l.queuedUpTo = 13;
    expect(readThrough(l, 10, 13)).toBe(true);
    expect(reportedOffset(l)).toBe(10);
    // Taken into a transaction: the queue is empty, but the commit has not happened.
    l.queue.splice(0);
    expect(reportedOffset(l)).toBe(10);
    l.committed = 13;
    expect(reportedOffset(l)).toBe(14);
  });

  it('moves past a batch of markers only when it follows on from what was read', () => {
    const l = lane(20);
    // The marker of the last transaction, fetched alone (after a restart at the checkpoint).
    expect(readThrough(l, 20, 20)).toBe(true);
    expect(reportedOffset(l)).toBe(21);
    // A range further on says nothing of offsets 21..29, which may hold commands never read.
    expect(readThrough(l, 30, 31)).toBe(false);
    expect(reportedOffset(l)).toBe(21);
    // Read again (a re-fetch): nothing moves back.
    expect(readThrough(l, 15, 20)).toBe(false);
    expect(l.readUpTo).toBe(21);
  });

  it('never reports past a command still queued behind a marker read later', () => {
    const l = lane(5);
    l.queue.push(command(5));
    l.queuedUpTo = 6;
    expect(readThrough(l, 5, 5)).toBe(true);
    expect(readThrough(l, 6, 6)).toBe(true); // its commit marker, in a fetch of its own
    expect(reportedOffset(l)).toBe(5);
    l.queue.splice(0);
    l.committed = 6;
    expect(reportedOffset(l)).toBe(7);
  });
});
