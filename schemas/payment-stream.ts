// The payment provider's messages for one order form one stream on
// restaurant.payment.events (aggregateId = orderId, key <orderId>/<version>).
// Two writers share that stream: the order-fulfilment process (requests) and
// the provider or its simulator (answers). So that neither has to read the
// other's position before writing, each message type has a fixed slot: the
// version is a contract, not a counter. A retry re-sends the same message id in
// the same slot, which compaction collapses into one record.
import type { PaymentMessage } from './messages';

export const PAYMENT_STREAM_VERSIONS: Readonly<Record<PaymentMessage['type'], number>> = Object.freeze({
  PaymentRequested: 1,
  PaymentAuthorized: 2,
  PaymentDeclined: 2,
  RefundRequested: 3,
  RefundIssued: 4,
});
