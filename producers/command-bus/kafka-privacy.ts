// The gateway's privacy layer on Kafka (docs/privacy.md): the key cache over
// restaurant.privacy.data-keys (read and written), the e-mail HMAC secret, and
// for staff writing an order's delivery address, a view of which customer each
// order belongs to (from restaurant.order.snapshots, started on first use so a
// gateway whose staff never do that does not hold every order in memory).
import type { Kafka } from 'kafkajs';
import type { OrderSnapshot } from '../../schemas/generated/types';
import { topicName } from '../../schemas/topics';
import type { AvroCodec } from '../../infra/kafka/codec';
import { CompactedTopicView } from '../../infra/kafka/topic-view';
import type { Logger } from '../../infra/logging';
import { emailReservationId, type DataKey } from '../../infra/privacy/crypto';
import { KafkaKeyStore, KeyStoreBehind } from '../../infra/privacy/key-store';
import type { PrivacySecrets } from '../../infra/privacy/settings';
import type { GatewayPrivacy } from '../gateway/personal-data';

export class KafkaGatewayPrivacy implements GatewayPrivacy {
  readonly keys: KafkaKeyStore;
  private owners: Promise<CompactedTopicView<string>> | undefined;

  constructor(
    private readonly kafka: Kafka,
    private readonly codec: AvroCodec,
    private readonly secrets: PrivacySecrets,
    private readonly logger: Logger,
    private readonly catchUpMs = 2000,
    private readonly startTimeoutMs = 120_000,
  ) {
    this.keys = new KafkaKeyStore(kafka, secrets.master, logger, { catchUpMs });
  }

  async start(): Promise<void> {
    if (!(await this.keys.start(this.startTimeoutMs, { write: true }))) {
      throw new KeyStoreBehind(`the key cache did not catch up with the keys topic within ${this.startTimeoutMs} ms`);
    }
    this.logger.info({ customers: this.keys.ring.customers }, 'key cache caught up');
  }

  async stop(): Promise<void> {
    const owners = this.owners;
    this.owners = undefined;
    await Promise.all([this.keys.stop(), (await owners?.catch(() => undefined))?.stop()]);
  }

  reservationId(email: string): string {
    return emailReservationId(this.secrets.emailSecret, email);
  }

  async sealingKey(customerId: string, options: { readonly emailReservation?: string } = {}): Promise<DataKey> {
    if (options.emailReservation === undefined) return this.keys.sealingKey(customerId);
    const keys = await this.keys.lookup(customerId);
    const recorded = keys.status === 'active' && keys.current.emailReservation === options.emailReservation;
    return this.keys.sealingKey(customerId, { rotate: !recorded, emailReservation: options.emailReservation });
  }

  async emailReservationsOf(customerId: string): Promise<readonly string[]> {
    if (!(await this.keys.catchUp(this.catchUpMs))) throw new KeyStoreBehind('the key cache is catching up with the keys topic; try again');
    return [...new Set(this.keys.ring.recordsOf(customerId).flatMap((r) => (r.emailReservation === null ? [] : [r.emailReservation])))];
  }

  async forget(customerId: string): Promise<void> {
    await this.keys.forget(customerId);
  }

  async orderOwner(orderId: string): Promise<string | undefined> {
    const view = await this.ownersView();
    const known = view.get(orderId);
    if (known !== undefined) return known;
    if (!(await view.catchUp(this.catchUpMs))) throw new KeyStoreBehind('the order view is catching up; try again');
    return view.get(orderId);
  }

  private ownersView(): Promise<CompactedTopicView<string>> {
    if (this.owners === undefined) {
      const view = new CompactedTopicView<string>(this.kafka, this.codec, this.logger, {
        topic: topicName('order', 'snapshots'),
        recordName: 'restaurant.order.OrderSnapshot',
        groupPrefix: 'restaurant.gateway.order-owners',
        select: (_id, value) => (value as OrderSnapshot).customerId,
      });
      const starting = view.start(this.startTimeoutMs).then((caughtUp) => {
        if (!caughtUp) throw new KeyStoreBehind('the order view did not catch up in time; try again');
        return view;
      });
      starting.catch(() => {
        if (this.owners === starting) this.owners = undefined;
        view.stop().catch(() => undefined);
      });
      this.owners = starting;
    }
    return this.owners;
  }
}
