// The gateway's route table: one task-based route per command, and the pure
// mapping from a request (route params + JSON body) to the command it asks for.
// app.ts adds the HTTP concerns (media types, headers, the bus, status codes).
//
// Pure: no express, no clock, no randomness.
import type { CommandMetadata } from '../../schemas/generated/types';
import type { DomainCommand } from '../../schemas/messages';
import { normalizeEmail, validateDescription, validateEmail, validateMenuItemName, validatePersonName, validateReason } from '../../schemas/validation';
import type { CommandAggregate, CommandEnvelope, MenuItemQuote } from './command-bus';
import { pathSegment } from './responses';
import {
  address,
  id,
  menuCategory,
  money,
  noBody,
  object,
  optional,
  quantity,
  readBody,
  string,
  text,
  type FieldProblem,
  type FieldReader,
} from './request-fields';

export interface RouteInput {
  readonly params: Readonly<Record<string, string | undefined>>;
  readonly body: unknown;
}

/** What a parsed request asks for, before ids and metadata are attached. */
export interface CommandDraft {
  readonly kind: 'command';
  /** The target aggregate; undefined when the route creates one (the gateway mints its id). */
  readonly aggregateId: string | undefined;
  readonly command: DomainCommand;
}

/** AddItemToOrder before the menu is asked for the name and today's price. */
export interface AddItemDraft {
  readonly kind: 'add-item';
  readonly aggregateId: string;
  readonly menuItemId: string;
  readonly quantity: number;
}

/** POST /customers: name and email, before the email is reserved. */
export interface SignUpDraft {
  readonly kind: 'sign-up';
  readonly name: string;
  /** Trimmed as given; the reservation key is its normalized form. */
  readonly email: string;
}

interface RouteBase {
  readonly method: 'POST';
  /** Express path template. */
  readonly path: string;
  /** Record name of the command (for the sign-up route: the command that creates the customer). */
  readonly commandType: DomainCommand['type'];
  readonly aggregate: CommandAggregate;
  /** The route creates an aggregate: its id is minted here, success is 201 with a Location. */
  readonly creates: boolean;
  readonly body: 'required' | 'none';
}

export type GatewayRoute =
  | (RouteBase & { readonly kind: 'command'; parse(input: RouteInput, problems: FieldProblem[]): CommandDraft | undefined })
  | (RouteBase & { readonly kind: 'add-item'; parse(input: RouteInput, problems: FieldProblem[]): AddItemDraft | undefined })
  | (RouteBase & { readonly kind: 'sign-up'; parse(input: RouteInput, problems: FieldProblem[]): SignUpDraft | undefined });

/** Where a created aggregate lives, for the Location header. */
export function locationOf(aggregate: CommandAggregate, aggregateId: string): string {
  const id = pathSegment(aggregateId);
  switch (aggregate) {
    case 'customer':
      return `/customers/${id}`;
    case 'menu':
      return `/menu/items/${id}`;
    case 'order':
      return `/orders/${id}`;
    case 'email-reservation':
      return `/email-reservations/${id}`;
  }
}

/** Validates route params as ids; problems are reported under `path.<name>`. */
function params<K extends string>(input: RouteInput, names: readonly K[], problems: FieldProblem[]): Record<K, string> | undefined {
  const before = problems.length;
  const out = {} as Record<K, string>;
  for (const name of names) {
    const value = id(name)(input.params[name], `path.${name}`, problems);
    if (value !== undefined) out[name] = value;
  }
  return problems.length === before ? out : undefined;
}

/** Reads params and body together so one 400 lists the problems of both. */
function both<K extends string, B>(
  input: RouteInput,
  names: readonly K[],
  reader: FieldReader<B>,
  problems: FieldProblem[],
): { readonly p: Record<K, string>; readonly b: B } | undefined {
  const p = params(input, names, problems);
  const b = readBody(reader, input.body, problems);
  return p === undefined || b === undefined ? undefined : { p, b };
}

/** A route whose command is fully determined by params and body. */
function command<K extends string, B>(spec: {
  readonly path: string;
  readonly aggregate: CommandAggregate;
  readonly commandType: DomainCommand['type'];
  readonly creates?: boolean;
  /** The param naming the target aggregate (absent for creations). */
  readonly target?: K;
  readonly params?: readonly K[];
  readonly body?: FieldReader<B>;
  readonly build: (params: Record<K, string>, body: B) => DomainCommand;
}): GatewayRoute {
  const names = spec.params ?? (spec.target === undefined ? [] : [spec.target]);
  const reader = (spec.body ?? noBody) as FieldReader<B>;
  return {
    kind: 'command',
    method: 'POST',
    path: spec.path,
    aggregate: spec.aggregate,
    commandType: spec.commandType,
    creates: spec.creates ?? false,
    body: spec.body === undefined ? 'none' : 'required',
    parse(input, problems) {
      const read = both(input, names, reader, problems);
      if (read === undefined) return undefined;
      const command = spec.build(read.p, read.b);
      if (command.type !== spec.commandType) throw new Error(`route ${spec.path} built ${command.type}, not ${spec.commandType}`);
      return { kind: 'command', aggregateId: spec.target === undefined ? undefined : read.p[spec.target], command };
    },
  };
}

const personName = text(validatePersonName);
const itemName = text(validateMenuItemName);
// Bodies, one per shape (declared up front so the route table infers their types).
const nameBody = object({ name: personName });
const addAddressBody = object({ addressId: id('addressId'), address });
const addMenuItemBody = object({ name: itemName, description: optional(text(validateDescription), ''), category: menuCategory, price: money });
const priceBody = object({ price: money });
const openOrderBody = object({ customerId: id('customerId') });
const addressBody = object({ address });
const reasonBody = object({ reason: text(validateReason) });

const signUpBody = object({ name: personName, email: string(validateEmail, { trim: true }) });
const addItemBody = object({ menuItemId: id('menuItemId'), quantity });

export const ROUTES: readonly GatewayRoute[] = [
  // customer
  {
    kind: 'sign-up',
    method: 'POST',
    path: '/customers',
    aggregate: 'customer',
    commandType: 'SignUpCustomer',
    creates: true,
    body: 'required',
    parse(input, problems) {
      const read = both(input, [], signUpBody, problems);
      return read === undefined ? undefined : { kind: 'sign-up', name: read.b.name, email: read.b.email };
    },
  },
  command({
    path: '/customers/:customerId/name',
    aggregate: 'customer',
    commandType: 'ChangeCustomerName',
    target: 'customerId',
    body: nameBody,
    build: (_, b) => ({ type: 'ChangeCustomerName', data: { name: b.name } }),
  }),
  command({
    path: '/customers/:customerId/addresses',
    aggregate: 'customer',
    commandType: 'AddDeliveryAddress',
    target: 'customerId',
    body: addAddressBody,
    build: (_, b) => ({ type: 'AddDeliveryAddress', data: { addressId: b.addressId, address: b.address } }),
  }),
  command({
    path: '/customers/:customerId/addresses/:addressId/remove',
    aggregate: 'customer',
    commandType: 'RemoveDeliveryAddress',
    target: 'customerId',
    params: ['customerId', 'addressId'],
    build: (p) => ({ type: 'RemoveDeliveryAddress', data: { addressId: p.addressId } }),
  }),
  command({
    path: '/customers/:customerId/forget',
    aggregate: 'customer',
    commandType: 'ForgetCustomer',
    target: 'customerId',
    build: () => ({ type: 'ForgetCustomer', data: {} }),
  }),

  // menu
  command({
    path: '/menu/items',
    aggregate: 'menu',
    commandType: 'AddMenuItem',
    creates: true,
    body: addMenuItemBody,
    build: (_, b) => ({ type: 'AddMenuItem', data: { name: b.name, description: b.description, category: b.category, price: b.price } }),
  }),
  command({
    path: '/menu/items/:menuItemId/price',
    aggregate: 'menu',
    commandType: 'ChangeMenuItemPrice',
    target: 'menuItemId',
    body: priceBody,
    build: (_, b) => ({ type: 'ChangeMenuItemPrice', data: { price: b.price } }),
  }),
  command({
    path: '/menu/items/:menuItemId/sold-out',
    aggregate: 'menu',
    commandType: 'MarkMenuItemSoldOut',
    target: 'menuItemId',
    build: () => ({ type: 'MarkMenuItemSoldOut', data: {} }),
  }),
  command({
    path: '/menu/items/:menuItemId/available',
    aggregate: 'menu',
    commandType: 'MarkMenuItemAvailable',
    target: 'menuItemId',
    build: () => ({ type: 'MarkMenuItemAvailable', data: {} }),
  }),
  command({
    path: '/menu/items/:menuItemId/remove',
    aggregate: 'menu',
    commandType: 'RemoveMenuItem',
    target: 'menuItemId',
    build: () => ({ type: 'RemoveMenuItem', data: {} }),
  }),

  // order
  command({
    path: '/orders',
    aggregate: 'order',
    commandType: 'OpenOrder',
    creates: true,
    body: openOrderBody,
    build: (_, b) => ({ type: 'OpenOrder', data: { customerId: b.customerId } }),
  }),
  {
    kind: 'add-item',
    method: 'POST',
    path: '/orders/:orderId/items',
    aggregate: 'order',
    commandType: 'AddItemToOrder',
    creates: false,
    body: 'required',
    parse(input, problems) {
      const read = both(input, ['orderId'], addItemBody, problems);
      return read === undefined ? undefined : { kind: 'add-item', aggregateId: read.p.orderId, menuItemId: read.b.menuItemId, quantity: read.b.quantity };
    },
  },
  command({
    path: '/orders/:orderId/items/:menuItemId/remove',
    aggregate: 'order',
    commandType: 'RemoveItemFromOrder',
    target: 'orderId',
    params: ['orderId', 'menuItemId'],
    build: (p) => ({ type: 'RemoveItemFromOrder', data: { menuItemId: p.menuItemId } }),
  }),
  command({
    path: '/orders/:orderId/delivery-address',
    aggregate: 'order',
    commandType: 'SetDeliveryAddress',
    target: 'orderId',
    body: addressBody,
    build: (_, b) => ({ type: 'SetDeliveryAddress', data: { address: b.address } }),
  }),
  command({
    path: '/orders/:orderId/place',
    aggregate: 'order',
    commandType: 'PlaceOrder',
    target: 'orderId',
    build: () => ({ type: 'PlaceOrder', data: {} }),
  }),
  command({
    path: '/orders/:orderId/cancel',
    aggregate: 'order',
    commandType: 'CancelOrder',
    target: 'orderId',
    body: reasonBody,
    build: (_, b) => ({ type: 'CancelOrder', data: { reason: b.reason } }),
  }),
  command({
    path: '/orders/:orderId/confirm',
    aggregate: 'order',
    commandType: 'ConfirmOrder',
    target: 'orderId',
    build: () => ({ type: 'ConfirmOrder', data: {} }),
  }),
  command({
    path: '/orders/:orderId/reject',
    aggregate: 'order',
    commandType: 'RejectOrder',
    target: 'orderId',
    body: reasonBody,
    build: (_, b) => ({ type: 'RejectOrder', data: { reason: b.reason } }),
  }),
  command({
    path: '/orders/:orderId/start-preparation',
    aggregate: 'order',
    commandType: 'StartPreparation',
    target: 'orderId',
    build: () => ({ type: 'StartPreparation', data: {} }),
  }),
  command({
    path: '/orders/:orderId/ready',
    aggregate: 'order',
    commandType: 'MarkOrderReady',
    target: 'orderId',
    build: () => ({ type: 'MarkOrderReady', data: {} }),
  }),
  command({
    path: '/orders/:orderId/dispatch',
    aggregate: 'order',
    commandType: 'DispatchOrder',
    target: 'orderId',
    build: () => ({ type: 'DispatchOrder', data: {} }),
  }),
  command({
    path: '/orders/:orderId/deliver',
    aggregate: 'order',
    commandType: 'ConfirmDelivery',
    target: 'orderId',
    build: () => ({ type: 'ConfirmDelivery', data: {} }),
  }),
];

/** AddItemToOrder with the name and unit price the menu has now; never the client's. */
export function addItemCommand(draft: AddItemDraft, quote: MenuItemQuote): DomainCommand {
  return {
    type: 'AddItemToOrder',
    data: { menuItemId: draft.menuItemId, menuItemName: quote.name, quantity: draft.quantity, unitPrice: quote.price },
  };
}

export interface SignUpEnvelopes {
  /** ReserveEmail on the normalized email (on its keyed hash when sealed). */
  readonly reserve: CommandEnvelope;
  /** SignUpCustomer on the new customer. */
  readonly signUp: CommandEnvelope;
  /** ReleaseEmail, sent only when the sign-up is rejected. */
  readonly release: CommandEnvelope;
}

/** A sign-up's personal data as the privacy layer turned it (docs/privacy.md). */
export interface SealedSignUp {
  /** The reservation's aggregate id: a keyed hash of the normalized email. */
  readonly reservationId: string;
  readonly name: string;
  readonly email: string;
}

/**
 * The three commands of a sign-up. Their ids are derived from the request's
 * command id (`<id>:reserve`, `<id>:signup`, `<id>:release`), so a retry with
 * the same Idempotency-Key replays the same commands and gets their first
 * outcomes. If-Match (expectedVersion) applies to the customer only.
 */
export function signUpEnvelopes(draft: SignUpDraft, metadata: CommandMetadata, sealed?: SealedSignUp, trace?: Readonly<Record<string, string>>): SignUpEnvelopes {
  const traced = trace === undefined ? {} : { trace };
  const customerId = metadata.aggregateId;
  const email = sealed?.reservationId ?? normalizeEmail(draft.email);
  const onEmail = (suffix: string): CommandMetadata => ({ ...metadata, commandId: `${metadata.commandId}:${suffix}`, aggregateId: email, expectedVersion: null });
  return {
    reserve: { aggregate: 'email-reservation', command: { type: 'ReserveEmail', data: { customerId } }, metadata: onEmail('reserve'), ...traced },
    signUp: {
      aggregate: 'customer',
      command: { type: 'SignUpCustomer', data: { name: sealed?.name ?? draft.name, email: sealed?.email ?? draft.email } },
      metadata: { ...metadata, commandId: `${metadata.commandId}:signup` },
      ...traced,
    },
    release: { aggregate: 'email-reservation', command: { type: 'ReleaseEmail', data: { customerId } }, metadata: onEmail('release'), ...traced },
  };
}
