// Produces messages that arrive within `lingerMs` of each other in one request,
// like the Java client's linger.ms: under load, one round trip carries many
// commands; when idle, a message waits at most lingerMs.
import type { Message, Producer, RecordMetadata } from 'kafkajs';

interface Queued {
  readonly topic: string;
  readonly message: Message;
  readonly done: (error: unknown, written?: RecordMetadata) => void;
}

export class ProduceBatcher {
  private queue: Queued[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly producer: Producer,
    private readonly lingerMs = 2,
    private readonly maxBatch = 500,
  ) {}

  /** Resolves once the broker has the message (acks=all), with where it was written. */
  send(topic: string, message: Message): Promise<RecordMetadata | undefined> {
    return new Promise((resolve, reject) => {
      this.queue.push({ topic, message, done: (error, written) => (error === undefined ? resolve(written) : reject(error)) });
      if (this.queue.length >= this.maxBatch) void this.flush();
      else this.timer ??= setTimeout(() => void this.flush(), this.lingerMs);
    });
  }

  async flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.queue;
    this.queue = [];
    if (batch.length === 0) return;
    const byTopic = new Map<string, Message[]>();
    for (const q of batch) {
      const messages = byTopic.get(q.topic);
      if (messages) messages.push(q.message);
      else byTopic.set(q.topic, [q.message]);
    }
    try {
      const written = await this.producer.sendBatch({ acks: -1, topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })) });
      batch.forEach((q) => q.done(undefined, written.find((w) => w.topicName === q.topic && w.partition === q.message.partition)));
    } catch (error) {
      batch.forEach((q) => q.done(error));
    }
  }
}
