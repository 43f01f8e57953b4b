// The gateway's view of the menu, for putting an item on an order at today's
// price: every menu item's latest snapshot, read from the compacted
// restaurant.menu.snapshots topic by a group of this instance's own. When asked
// for an item it does not have, it first catches up to the topic's current end
// (bounded), so an item added a moment ago is found.
import { randomUUID } from 'node:crypto';
import type { Consumer, Kafka } from 'kafkajs';
import type { MenuItemSnapshot } from '../../schemas/generated/types';
import { AvroCodec } from '../../infra/kafka/codec';
import type { Logger } from '../../infra/logging';
import type { MenuCatalog, MenuItemQuote } from '../gateway/command-bus';

export const MENU_SNAPSHOTS_TOPIC = 'restaurant.menu.snapshots';
const MENU_ITEM_SNAPSHOT = 'restaurant.menu.MenuItemSnapshot';

/** The menu view has not caught up with the topic in time: it cannot say an item does not exist (HTTP 503). */
export class MenuCatalogBehind extends Error {
  override readonly name = 'MenuCatalogBehind';
  readonly retriable = true;
}

export class KafkaMenuCatalog implements MenuCatalog {
  private readonly items = new Map<string, MenuItemQuote>();
  private readonly positions = new Map<number, number>(); // partition -> last offset seen
  private readonly listeners = new Set<() => void>();
  private consumer: Consumer | undefined;

  constructor(
    private readonly kafka: Kafka,
    private readonly codec: AvroCodec,
    private readonly logger: Logger,
    private readonly catchUpMs = 2000,
    private readonly startTimeoutMs = 120_000,
  ) {}

  async start(): Promise<void> {
    // The broker answers a fetch as soon as a snapshot is committed; the wait only bounds how often an idle gateway asks.
    const consumer = this.kafka.consumer({ groupId: `restaurant.gateway.menu.${randomUUID()}`, maxWaitTimeInMs: 250 });
    this.consumer = consumer;
    consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
      this.positions.set(payload.partition, Number(payload.lastOffset));
      this.listeners.forEach((l) => l());
    });
    await consumer.connect();
    await consumer.subscribe({ topic: MENU_SNAPSHOTS_TOPIC, fromBeginning: true });
    await consumer.run({
      // A throwaway group that always reads from the beginning: committing its offsets would only cost requests.
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        for (const message of batch.messages) {
          const id = message.key?.toString() ?? '';
          if (message.value === null) {
            this.items.delete(id);
            continue;
          }
          try {
            const decoded = await this.codec.decode(message.value);
            if (decoded.fullName !== MENU_ITEM_SNAPSHOT) continue; // e.g. the command processor's checkpoint
            const snapshot = decoded.value as MenuItemSnapshot;
            if (snapshot.status === 'REMOVED' || snapshot.status === 'UNKNOWN') this.items.delete(id);
            else this.items.set(id, { menuItemId: id, name: snapshot.name, price: snapshot.price, available: snapshot.status === 'AVAILABLE' });
          } catch (error) {
            this.logger.warn({ err: error, offset: message.offset }, 'menu snapshot skipped');
          }
        }
      },
    });
    // Ready only once the whole menu has been read: before that, "no such item" could be false.
    if (!(await this.catchUp(this.startTimeoutMs))) {
      throw new MenuCatalogBehind(`the menu view did not catch up with ${MENU_SNAPSHOTS_TOPIC} within ${this.startTimeoutMs} ms`);
    }
    this.logger.info({ items: this.items.size }, 'menu view caught up');
  }

  async stop(): Promise<void> {
    await this.consumer?.disconnect();
  }

  async quote(menuItemId: string): Promise<MenuItemQuote | undefined> {
    const known = this.items.get(menuItemId);
    if (known) return known;
    if (!(await this.catchUp(this.catchUpMs))) {
      throw new MenuCatalogBehind(`the menu view is catching up with ${MENU_SNAPSHOTS_TOPIC}; try again`);
    }
    return this.items.get(menuItemId);
  }

  /** Waits (at most timeoutMs) until every partition has been read up to the end it has now; false if it was not. */
  private async catchUp(timeoutMs: number): Promise<boolean> {
    const admin = this.kafka.admin();
    await admin.connect();
    let ends: Array<{ partition: number; high: string; low: string }>;
    try {
      ends = await admin.fetchTopicOffsets(MENU_SNAPSHOTS_TOPIC);
    } finally {
      await admin.disconnect();
    }
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
