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
import { ReadPositions } from './read-positions';
import type { AvroCodec } from './codec';
import { trackMembership, type Membership } from './membership';
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
  private readonly positions = new ReadPositions();
  private reader: { readonly consumer: Consumer; readonly membership: Membership } | undefined;
  private stopping = false;
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
    await this.open();
    return this.catchUp(timeoutMs);
  }

  /** Undefined while the view is being kept up to date; else why not (for readiness). */
  notReady(): string | undefined {
    return this.reader === undefined ? `view of ${this.options.topic}: reconnecting` : this.reader.membership.notReady();
  }

  /**
   * Reads the topic with a consumer group of its own, from where the view has
   * read (the beginning at first). A consumer that crashes (the broker went
   * away and kafkajs's retries ran out) is replaced by one in a new group,
   * which joins at once, rather than restarted in its old group, whose
   * coordinator would wait out the dead member's session (docs/recovery.md).
   */
  private async open(): Promise<void> {
    const { topic, groupPrefix } = this.options;
    const consumer = this.kafka.consumer({
      groupId: `${groupPrefix}.${randomUUID()}`,
      // The broker answers a fetch as soon as a record is committed; the wait only bounds how often an idle view asks.
      maxWaitTimeInMs: 250,
      sessionTimeout: 6_000,
      heartbeatInterval: 1_000,
      retry: { restartOnFailure: async () => false },
    });
    const membership = trackMembership(consumer, `view of ${topic}`);
    const joined = new Promise<void>((resolve, reject) => {
      consumer.on(consumer.events.GROUP_JOIN, () => resolve());
      consumer.on(consumer.events.CRASH, ({ payload }) => reject(payload.error));
    });
    joined.catch(() => undefined);
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      if (this.reader?.consumer !== consumer || this.stopping) return;
      this.reader = undefined;
      this.logger.warn({ err: payload.error, topic }, 'the topic view\'s consumer crashed; reading on in a new group');
      void this.reopen();
    });
    consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
      this.positions.advance(payload.partition, Number(payload.lastOffset));
    });
    try {
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      await consumer.run({
        // A throwaway group that always reads from the beginning (or where the view stands): committing its offsets would only cost requests.
        autoCommit: false,
        eachBatch: async ({ batch }) => {
          for (const message of batch.messages) await this.apply(message.key, message.value, message.offset);
        },
      });
      await joined;
      for (const [partition, last] of this.positions.entries()) consumer.seek({ topic, partition, offset: String(last + 1) });
      this.reader = { consumer, membership };
    } catch (error) {
      await consumer.disconnect().catch(() => undefined);
      throw error;
    }
  }

  private async reopen(): Promise<void> {
    for (let delay = 250; !this.stopping; delay = Math.min(delay * 2, 1000)) {
      try {
        await this.open();
        this.logger.info({ topic: this.options.topic }, 'topic view reading again');
        return;
      } catch (error) {
        this.logger.debug({ err: error }, 'the topic view cannot start yet; trying again');
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  }

  private async apply(rawKey: Buffer | null, value: Buffer | null, offset: string): Promise<void> {
    const { topic, recordName, select } = this.options;
    const key = rawKey?.toString() ?? '';
    if (value === null) {
      this.values.delete(key);
      return;
    }
    try {
      const decoded = await this.codec.decode(value);
      if (decoded.fullName !== recordName) return;
      const selected = select(key, decoded.value);
      if (selected === undefined) this.values.delete(key);
      else this.values.set(key, selected);
    } catch (error) {
      this.logger.warn({ err: error, topic, offset }, 'record skipped by the topic view');
    }
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.reader?.consumer.disconnect();
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
    return this.positions.until(ends, timeoutMs);
  }
}
