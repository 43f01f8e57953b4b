// The partitions a queuing sink asked its EventConsumer to stop fetching
// (pause / resume: the stateful runtime's decoupled fetch, fetch-queue.ts).
//
// kafkajs keeps pauses in the consumer group it builds on `run`, and throws
// ("Consumer group was not initialized") on pause/resume while there is none:
// after a crash (a broker restarted, a coordinator lost) it disconnects,
// dropping the group and its pauses, and runs again a few seconds later. A
// sink pausing in that window (a failed round rewinding its task) threw out of
// the task's loop and took the process down. So what is paused is remembered
// here, given to kafkajs when it can take it, and given again on every join,
// which is when the rebuilt group exists and before it fetches.
import type { Consumer } from 'kafkajs';
import type { Logger } from '../logging';

type Control = Pick<Consumer, 'pause' | 'resume'>;

const key = (topic: string, partition: number): string => `${partition}\u0000${topic}`;

export class PausedPartitions {
  private readonly paused = new Map<string, { readonly topic: string; readonly partition: number }>();

  constructor(private readonly log: Logger) {}

  pause(consumer: Control | undefined, topic: string, partition: number): void {
    this.paused.set(key(topic, partition), { topic, partition });
    this.apply(consumer, 'pause', topic, partition);
  }

  resume(consumer: Control | undefined, topic: string, partition: number): void {
    this.paused.delete(key(topic, partition));
    this.apply(consumer, 'resume', topic, partition);
  }

  /** On a join (kafkajs's group rebuilt after a crash starts unpaused): every partition still paused, paused again. */
  reapply(consumer: Control | undefined): void {
    for (const { topic, partition } of this.paused.values()) this.apply(consumer, 'pause', topic, partition);
  }

  has(topic: string, partition: number): boolean {
    return this.paused.has(key(topic, partition));
  }

  private apply(consumer: Control | undefined, what: 'pause' | 'resume', topic: string, partition: number): void {
    try {
      consumer?.[what]([{ topic, partitions: [partition] }]);
    } catch (error) {
      // Only while kafkajs has no group (between a crash and its restart): the next join applies what is remembered.
      this.log.debug({ err: error, topic, partition }, `could not ${what} the partition now (the consumer is restarting); done again when it rejoins`);
    }
  }
}
