// What the order-fulfilment process checks when an order is placed: does the
// customer exist, and is every ordered item still on the menu and not sold
// out. The workflow is pure, so the runtime looks the facts up and hands them
// in with OrderPlaced: here, from the latest customer and menu snapshots
// (compacted topics), held in memory and kept up to date.
//
// A fact that is not found may simply not have been read yet (a customer who
// signed up a moment before ordering): before answering "unknown", the view
// catches up with the topics' current ends, bounded. If it cannot, the lookup
// fails as retriable and the batch is tried again, rather than reject an order
// on a stale view.
import type { Kafka } from 'kafkajs';
import type { AvroCodec } from '../../../infra/kafka/codec';
import { CompactedTopicView } from '../../../infra/kafka/topic-view';
import type { Logger } from '../../../infra/logging';
import type { MenuItemSnapshot, MenuItemStatus, OrderPlaced } from '../../../schemas/generated/types';
import type { PayloadOf } from '../../../schemas/messages';
import { topicName } from '../../../schemas/topics';
import type { PlacementFacts } from './order-fulfilment.workflow';

export interface PlacementFactsSource {
  /** Facts for each order, in order. */
  factsFor(orders: ReadonlyArray<PayloadOf<OrderPlaced>>): Promise<PlacementFacts[]>;
  start?(): Promise<void>;
  stop?(): Promise<void>;
}

/** The views could not catch up with the snapshot topics in time. */
export class FactsBehind extends Error {
  override readonly name = 'FactsBehind';
  readonly retriable = true;
}

export interface KafkaPlacementFactsOptions {
  readonly customerSnapshots?: string;
  readonly menuSnapshots?: string;
  /** Longest wait for the views to catch up with a topic's end (default 5 s). */
  readonly catchUpMs?: number;
  /** Longest wait for the first full read at start (default 120 s). */
  readonly startTimeoutMs?: number;
}

export class KafkaPlacementFacts implements PlacementFactsSource {
  private readonly customers: CompactedTopicView<true>;
  private readonly menu: CompactedTopicView<MenuItemStatus>;
  private readonly catchUpMs: number;
  private readonly startTimeoutMs: number;
  /** Catch-ups done because a fact was missing (for tests and stats). */
  catchUps = 0;

  constructor(kafka: Kafka, codec: AvroCodec, logger: Logger, options: KafkaPlacementFactsOptions = {}) {
    this.catchUpMs = options.catchUpMs ?? 5_000;
    this.startTimeoutMs = options.startTimeoutMs ?? 120_000;
    this.customers = new CompactedTopicView(kafka, codec, logger, {
      topic: options.customerSnapshots ?? topicName('customer', 'snapshots'),
      recordName: 'restaurant.customer.CustomerSnapshot',
      groupPrefix: 'restaurant.fulfilment.customers',
      select: () => true,
    });
    this.menu = new CompactedTopicView(kafka, codec, logger, {
      topic: options.menuSnapshots ?? topicName('menu', 'snapshots'),
      recordName: 'restaurant.menu.MenuItemSnapshot',
      groupPrefix: 'restaurant.fulfilment.menu',
      select: (_id, value) => {
        const status = (value as MenuItemSnapshot).status;
        return status === 'REMOVED' || status === 'UNKNOWN' ? undefined : status;
      },
    });
  }

  async start(): Promise<void> {
    const [customers, menu] = await Promise.all([this.customers.start(this.startTimeoutMs), this.menu.start(this.startTimeoutMs)]);
    if (!customers || !menu) throw new FactsBehind(`the placement facts did not catch up with ${this.customers.topic} and ${this.menu.topic} within ${this.startTimeoutMs} ms`);
  }

  async stop(): Promise<void> {
    await Promise.all([this.customers.stop(), this.menu.stop()]);
  }

  async factsFor(orders: ReadonlyArray<PayloadOf<OrderPlaced>>): Promise<PlacementFacts[]> {
    const missing = orders.some((o) => this.customers.get(o.customerId) === undefined || o.lines.some((l) => this.menu.get(l.menuItemId) === undefined));
    if (missing) {
      this.catchUps += 1;
      const [customers, menu] = await Promise.all([this.customers.catchUp(this.catchUpMs), this.menu.catchUp(this.catchUpMs)]);
      if (!customers || !menu) throw new FactsBehind(`the placement facts are catching up with ${this.customers.topic} and ${this.menu.topic}; try again`);
    }
    return orders.map((o) => ({
      customerExists: this.customers.get(o.customerId) === true,
      menuItems: Object.fromEntries(o.lines.flatMap((l) => {
        const status = this.menu.get(l.menuItemId);
        return status === undefined ? [] : [[l.menuItemId, status] as const];
      })),
    }));
  }
}
