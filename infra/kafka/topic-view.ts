// An in-memory view of a compacted topic: the latest value per key, read from
// the beginning by a consumer group of this instance's own and kept up to date.
// Used where a role needs another aggregate's current state without owning it:
// the gateway's menu catalog (prices), the order-fulfilment process's placement
// facts (menu item status, known customers).
//
// "Up to date" is checkable: `catchUp` waits (bounded) until every partition has
// been read up to the end offset it has now, so a caller that does not find a key
// can tell "not there" from "not read yet".
import { randomUUID } from 'node:crypto';
import type { Admin, Consumer, Kafka } from 'kafkajs';
import type { AvroCodec } from './codec';
import type { Logger } from '../logging';

export interface TopicViewOptions<V> {
  readonly topic: string;
  /** Avro full name of the records to keep; others on the topic (e.g. the command processor's checkpoint) are passed over. */
  readonly recordName: string;
  /** Prefix of the view's own consumer group (a random suffix is added per instance). */
  readonly groupPrefix: string;
  /** The value to keep for a decoded record, or undefined to forget the key (e.g. a removed item). */
  readonly select: (key: string, value: unknown) => V | undefined;
}

export class CompactedTopicView<V> {
  private readonly values = new Map<string, V>();
  private readonly positions = new Map<number, number>(); // partition -> last offset seen
  private readonly listeners = new Set<() => void>();
  private consumer: Consumer | undefined;
  private admin: Promise<Admin> | undefined;

  constructor(
    private readonly kafka: Kafka,
    private readonly codec: AvroCodec,
    private readonly logger: Logger,
    private readonly options: TopicViewOptions<V>,
  ) {}

  get topic(): string {
    return this.options.topic;
  }

  get size(): number {
    return this.values.size;
  }

  get(key: string): V | undefined {
    return this.values.get(key);
  }

  /** Starts reading; resolves once the whole topic has been read (false if not within `timeoutMs`). */
  async start(timeoutMs: number): Promise<boolean> {
    const { topic, recordName, groupPrefix, select } = this.options;
    // The broker answers a fetch as soon as a record is committed; the wait only bounds how often an idle view asks.
    const consumer = this.kafka.consumer({ groupId: `${groupPrefix}.${randomUUID()}`, maxWaitTimeInMs: 250 });
    this.consumer = consumer;
    consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
      this.positions.set(payload.partition, Number(payload.lastOffset));
      this.listeners.forEach((l) => l());
    });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      // A throwaway group that always reads from the beginning: committing its offsets would only cost requests.
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        for (const message of batch.messages) {
          const key = message.key?.toString() ?? '';
          if (message.value === null) {
            this.values.delete(key);
            continue;
          }
          try {
            const decoded = await this.codec.decode(message.value);
            if (decoded.fullName !== recordName) continue;
            const selected = select(key, decoded.value);
            if (selected === undefined) this.values.delete(key);
            else this.values.set(key, selected);
          } catch (error) {
            this.logger.warn({ err: error, topic, offset: message.offset }, 'record skipped by the topic view');
          }
        }
      },
    });
    return this.catchUp(timeoutMs);
  }

  async stop(): Promise<void> {
    await this.consumer?.disconnect();
    const admin = this.admin;
    this.admin = undefined;
    await (await admin?.catch(() => undefined))?.disconnect();
  }

  /** One admin connection for every catch-up, opened on first use. */
  private connectedAdmin(): Promise<Admin> {
    if (this.admin === undefined) {
      const admin = this.kafka.admin();
      const connecting = admin.connect().then(() => admin);
      connecting.catch(() => {
        if (this.admin === connecting) this.admin = undefined;
      });
      this.admin = connecting;
    }
    return this.admin;
  }

  /** Waits (at most timeoutMs) until every partition has been read up to the end it has now; false if it was not. */
  async catchUp(timeoutMs: number): Promise<boolean> {
    const ends = await (await this.connectedAdmin()).fetchTopicOffsets(this.options.topic);
    const caughtUp = (): boolean =>
      ends.every((e) => Number(e.high) <= Number(e.low) || (this.positions.get(e.partition) ?? -1) >= Number(e.high) - 1);
    if (caughtUp()) return true;
    return new Promise<boolean>((resolve) => {
      const listener = (): void => {
        if (caughtUp()) finish(true);
      };
      const finish = (result: boolean): void => {
        clearTimeout(timer);
        this.listeners.delete(listener);
        resolve(result);
      };
      const timer = setTimeout(() => finish(caughtUp()), timeoutMs);
      this.listeners.add(listener);
    });
  }
}
