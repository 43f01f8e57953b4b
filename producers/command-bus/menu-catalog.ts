// The gateway's view of the menu, for putting an item on an order at today's
// price: every menu item's latest snapshot, read from the compacted
// restaurant.menu.snapshots topic by a group of this instance's own. When asked
// for an item it does not have, it first catches up to the topic's current end
// (bounded), so an item added a moment ago is found.
import type { Kafka } from 'kafkajs';
import type { MenuItemSnapshot } from '../../schemas/generated/types';
import { topicName } from '../../schemas/topics';
import { AvroCodec } from '../../infra/kafka/codec';
import { CompactedTopicView } from '../../infra/kafka/topic-view';
import type { Logger } from '../../infra/logging';
import type { MenuCatalog, MenuItemQuote } from '../gateway/command-bus';
import { orderable } from '../menu/menu-item.rules';

export const MENU_SNAPSHOTS_TOPIC = topicName('menu', 'snapshots');

/** The menu view has not caught up with the topic in time: it cannot say an item does not exist (HTTP 503). */
export class MenuCatalogBehind extends Error {
  override readonly name = 'MenuCatalogBehind';
  readonly retriable = true;
}

export class KafkaMenuCatalog implements MenuCatalog {
  private readonly view: CompactedTopicView<MenuItemQuote>;

  constructor(
    kafka: Kafka,
    codec: AvroCodec,
    private readonly logger: Logger,
    private readonly catchUpMs = 2000,
    private readonly startTimeoutMs = 120_000,
  ) {
    this.view = new CompactedTopicView(kafka, codec, logger, {
      topic: MENU_SNAPSHOTS_TOPIC,
      recordName: 'restaurant.menu.MenuItemSnapshot',
      groupPrefix: 'restaurant.gateway.menu',
      select: (id, value) => {
        const snapshot = value as MenuItemSnapshot;
        if (snapshot.status === 'REMOVED' || snapshot.status === 'UNKNOWN') return undefined;
        return { menuItemId: id, name: snapshot.name, price: snapshot.price, available: orderable(snapshot.status) };
      },
    });
  }

  async start(): Promise<void> {
    // Ready only once the whole menu has been read: before that, "no such item" could be false.
    if (!(await this.view.start(this.startTimeoutMs))) {
      throw new MenuCatalogBehind(`the menu view did not catch up with ${MENU_SNAPSHOTS_TOPIC} within ${this.startTimeoutMs} ms`);
    }
    this.logger.info({ items: this.view.size }, 'menu view caught up');
  }

  async stop(): Promise<void> {
    await this.view.stop();
  }

  /** Undefined while the menu view is kept up to date; else why not (for readiness). */
  notReady(): string | undefined {
    return this.view.notReady();
  }

  async quote(menuItemId: string): Promise<MenuItemQuote | undefined> {
    const known = this.view.get(menuItemId);
    if (known) return known;
    if (!(await this.view.catchUp(this.catchUpMs))) {
      throw new MenuCatalogBehind(`the menu view is catching up with ${MENU_SNAPSHOTS_TOPIC}; try again`);
    }
    return this.view.get(menuItemId);
  }
}
