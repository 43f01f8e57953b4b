// Message shapes shared by the command side and the read side, derived from the
// generated Avro types so they cannot drift from the .avsc files.
//
// On the wire a command or event is one Avro record: `{ metadata, ...payload }`.
// Inside the domain it is a discriminated union member `{ type, data }` where
// `type` is the record name and `data` the payload without the envelope; the
// runtime adds (events) or strips (commands) the metadata.
import type {
  CommandMetadata,
  CustomerCommandRecords,
  CustomerEventRecords,
  EmailCommandRecords,
  EmailEventRecords,
  EventMetadata,
  MenuCommandRecords,
  MenuEventRecords,
  OrderCommandRecords,
  OrderEventRecords,
  PaymentEventRecords,
} from './generated/types';

/** A record's payload: everything but its metadata envelope. */
export type PayloadOf<R> = Omit<R, 'metadata'>;

/** The `{ type, data }` union over a map of record name -> record type. */
export type MessageOf<Records> = {
  [K in keyof Records & string]: { readonly type: K; readonly data: PayloadOf<Records[K]> };
}[keyof Records & string];

export type CustomerCommand = MessageOf<CustomerCommandRecords>;
export type CustomerEvent = MessageOf<CustomerEventRecords>;
export type MenuItemCommand = MessageOf<MenuCommandRecords>;
export type MenuItemEvent = MessageOf<MenuEventRecords>;
export type OrderCommand = MessageOf<OrderCommandRecords>;
export type OrderEvent = MessageOf<OrderEventRecords>;
export type EmailReservationCommand = MessageOf<EmailCommandRecords>;
export type EmailReservationEvent = MessageOf<EmailEventRecords>;
export type PaymentMessage = MessageOf<PaymentEventRecords>;

export type DomainCommand = CustomerCommand | MenuItemCommand | OrderCommand | EmailReservationCommand;
export type DomainEvent = CustomerEvent | MenuItemEvent | OrderEvent | EmailReservationEvent | PaymentMessage;

/** The Avro record for a message: payload plus envelope. */
export type RecordOf<M extends { readonly data: object }, Meta> = M['data'] & { readonly metadata: Meta };

/** Wraps a domain event into its Avro record (`{ metadata, ...data }`). */
export function toEventRecord<E extends { readonly type: string; readonly data: object }>(
  event: E,
  metadata: EventMetadata,
): RecordOf<E, EventMetadata> {
  return { ...event.data, metadata };
}

/** Wraps a command into its Avro record (`{ metadata, ...data }`). */
export function toCommandRecord<C extends { readonly type: string; readonly data: object }>(
  command: C,
  metadata: CommandMetadata,
): RecordOf<C, CommandMetadata> {
  return { ...command.data, metadata };
}

/**
 * Splits a decoded Avro record back into envelope and `{ type, data }`. The
 * caller names the type (from the record name of the writer schema or the
 * event-type header), so this cannot check it; pair it with the schema it was
 * decoded with.
 */
export function fromRecord<M extends { readonly type: string; readonly data: object }, Meta>(
  type: M['type'],
  record: M['data'] & { readonly metadata: Meta },
): { readonly metadata: Meta; readonly message: M } {
  const { metadata, ...data } = record;
  return { metadata, message: { type, data } as unknown as M };
}
