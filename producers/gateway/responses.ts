// Command outcomes and gateway refusals → HTTP status, headers and JSON body.
// Every error body has one shape:
//   { "error": { "code", "message", "fields"? }, "commandId"?, "aggregateId"? }
//
// Pure: no express.
import { consistencyToken } from '../../schemas/consistency-token';
import { FORBIDDEN } from '../shared/authorization';
import type { CommandOutcome } from './command-bus';
import type { FieldProblem } from './request-fields';

export interface HttpReply {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: unknown;
}

export interface ErrorBody {
  readonly error: { readonly code: string; readonly message: string; readonly fields?: readonly FieldProblem[] };
  readonly commandId?: string;
  readonly aggregateId?: string;
}

/** Seconds a client should wait before retrying after a 503. */
export const RETRY_AFTER_SECONDS = 2;

export function errorReply(
  status: number,
  code: string,
  message: string,
  extra: { readonly fields?: readonly FieldProblem[]; readonly commandId?: string; readonly headers?: Record<string, string> } = {},
): HttpReply {
  const body: ErrorBody = {
    error: { code, message, ...(extra.fields === undefined ? {} : { fields: extra.fields }) },
    ...(extra.commandId === undefined ? {} : { commandId: extra.commandId }),
  };
  return { status, headers: extra.headers ?? {}, body };
}

export const invalidRequest = (fields: readonly FieldProblem[]): HttpReply =>
  errorReply(400, 'invalid_request', `the request has ${fields.length} invalid field${fields.length === 1 ? '' : 's'}`, { fields });

export const unavailable = (commandId?: string): HttpReply =>
  errorReply(503, 'unavailable', 'the command could not be accepted right now; retry shortly (with the same Idempotency-Key)', {
    ...(commandId === undefined ? {} : { commandId }),
    headers: { 'Retry-After': String(RETRY_AFTER_SECONDS) },
  });

export const internalError = (commandId?: string): HttpReply =>
  errorReply(500, 'internal', 'something went wrong on our side', commandId === undefined ? {} : { commandId });

/**
 * Rejection code → status: `forbidden` (the decider's authorization: role or
 * ownership, docs/domain.md) is 403; anything not found is 404; every other
 * business rule (and version_conflict) is 409.
 */
export function statusForRejection(code: string): 403 | 404 | 409 {
  if (code === FORBIDDEN) return 403;
  return code.endsWith('_not_found') ? 404 : 409;
}

export const etag = (version: number): string => `"${version}"`;
/** `:` is legal in a path segment and common in our ids (`<id>:reserve`), so it is left readable. */
export const pathSegment = (value: string): string => encodeURIComponent(value).replace(/%3A/gi, ':');
export const statusUrl = (commandId: string): string => `/commands/${pathSegment(commandId)}`;

/**
 * The reply for a command's outcome. `location` is given for routes that create
 * an aggregate: success is then 201 with a Location header.
 */
export function outcomeReply(outcome: CommandOutcome, location?: (aggregateId: string) => string): HttpReply {
  switch (outcome.status) {
    case 'accepted':
      return {
        status: location === undefined ? 200 : 201,
        headers: { ETag: etag(outcome.aggregateVersion), ...(location === undefined ? {} : { Location: location(outcome.aggregateId) }) },
        body: {
          commandId: outcome.commandId,
          aggregateId: outcome.aggregateId,
          aggregateVersion: outcome.aggregateVersion,
          events: outcome.events,
          // Read-your-writes: pass it to a query (?consistency= or X-Consistency-Token) to wait for these events.
          ...(outcome.events.length === 0 ? {} : { consistencyToken: consistencyToken(outcome.events) }),
        },
      };
    case 'rejected': {
      const status = statusForRejection(outcome.code);
      return {
        status,
        // The current version, so a client that lost an If-Match race can re-read and retry.
        headers: status === 409 ? { ETag: etag(outcome.aggregateVersion) } : {},
        body: { error: { code: outcome.code, message: outcome.message }, commandId: outcome.commandId, aggregateId: outcome.aggregateId },
      };
    }
    case 'pending': {
      const url = statusUrl(outcome.commandId);
      return {
        status: 202,
        headers: { Location: url },
        body: { commandId: outcome.commandId, aggregateId: outcome.aggregateId, status: 'pending', statusUrl: url },
      };
    }
  }
}
