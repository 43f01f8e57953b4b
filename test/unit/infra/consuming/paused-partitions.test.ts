import { Kafka, type Consumer } from 'kafkajs';
import { rootLogger } from '../../../../infra/logging';
import { PausedPartitions } from '../../../../infra/consuming/paused-partitions';

type Control = Pick<Consumer, 'pause' | 'resume'>;

/** What kafkajs's group holds once it exists: the partitions paused on it. */
function rebuiltGroup(): Control & { readonly pausedNow: Set<string> } {
  const pausedNow = new Set<string>();
  return {
    pausedNow,
    pause: (tps) => tps.forEach(({ topic, partitions }) => partitions?.forEach((p) => pausedNow.add(`${topic}/${p}`))),
    resume: (tps) => tps.forEach(({ topic, partitions }) => partitions?.forEach((p) => pausedNow.delete(`${topic}/${p}`))),
  };
}

describe('PausedPartitions', () => {
  const log = rootLogger.child({}, { level: 'silent' });
  // A real kafkajs consumer that has no group (never run, or between a crash and its restart): it throws on pause.
  const groupless = new Kafka({ brokers: ['127.0.0.1:1'], clientId: 'paused-partitions-test' }).consumer({ groupId: 'paused-partitions-test' });

  it('does not throw while kafkajs has no group, and pauses on the next join', () => {
    expect(() => groupless.pause([{ topic: 't', partitions: [3] }])).toThrow(/Consumer group was not initialized/);
    const paused = new PausedPartitions(log);
    expect(() => paused.pause(groupless, 't', 3)).not.toThrow();
    expect(() => paused.pause(groupless, 'u', 1)).not.toThrow();
    expect(paused.has('t', 3)).toBe(true);
    const group = rebuiltGroup();
    paused.reapply(group);
    expect([...group.pausedNow].sort()).toEqual(['t/3', 'u/1']);
  });

  it('forgets what was resumed, also while there is no group', () => {
    const paused = new PausedPartitions(log);
    const group = rebuiltGroup();
    paused.pause(group, 't', 0);
    paused.pause(group, 't', 1);
    expect([...group.pausedNow].sort()).toEqual(['t/0', 't/1']);
    paused.resume(group, 't', 0);
    expect([...group.pausedNow]).toEqual(['t/1']);
    expect(() => paused.resume(groupless, 't', 1)).not.toThrow();
    const next = rebuiltGroup();
    paused.reapply(next);
    expect(next.pausedNow.size).toBe(0);
    expect(paused.has('t', 1)).toBe(false);
  });
});
