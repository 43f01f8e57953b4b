// Reading a request body, and what a request that cannot be read gets
// (docs/gateway.md, "Hostile input"):
// * only UTF-8 JSON: a charset other than UTF-8 is 415, bytes that are not
//   UTF-8 are 400 `malformed_json` (never decoded into U+FFFD); one leading
//   UTF-8 byte order mark is ignored (RFC 8259 §8.1);
// * no Content-Encoding other than `identity`: a compressed body is 415 before
//   a byte of it is inflated (bodies are small; inflating is only attack surface);
// * a path whose percent-encoding does not decode is 400 `invalid_request`.
import { isUtf8 } from 'node:buffer';
import type { IncomingMessage } from 'node:http';
import express, { type RequestHandler } from 'express';
import { errorReply, invalidRequest, type HttpReply } from './responses';

export const JSON_TYPES = ['application/json', 'application/*+json'];

/** An error body-parser passes on as it is (it keeps our `status` and `type`). */
function refusal(status: number, type: string, message: string): Error {
  return Object.assign(new Error(message), { status, type, expose: true });
}

/** Runs on the raw bytes before they are decoded and parsed; throwing refuses the request. */
function utf8Only(_req: IncomingMessage, _res: unknown, body: Buffer, charset: string): void {
  if (charset !== 'utf-8') throw refusal(415, 'charset.unsupported', `unsupported charset "${charset}"`);
  if (!isUtf8(body)) throw refusal(400, 'entity.not.utf8', 'the request body is not valid UTF-8');
}

/** The JSON body parser of every command route. */
export function jsonBody(limitBytes: number): RequestHandler {
  return express.json({ limit: limitBytes, strict: true, type: JSON_TYPES, inflate: false, verify: utf8Only });
}

/**
 * Passes a request on only while its connection still stands. A body whose
 * framing breaks (a bad chunk size) while the request waits for something
 * asynchronous, such as verifying its token, makes node answer 400 and drop
 * the connection; the body parser then finds the request already finished and
 * reads nothing, and a route without a body would otherwise go on to send its
 * command on behalf of a request its client saw refused. (A request whose
 * body is still on its way is not refused here: the routes' own media-type
 * and body checks answer it.)
 */
export const wholeRequest: RequestHandler = (req, _res, next) => {
  if (!req.socket.destroyed && !req.destroyed && !req.readableAborted) next();
  else next(refusal(400, 'request.incomplete', 'the request was not received whole'));
};

/**
 * A request express or body-parser could not take in → our reply; undefined
 * for anything else (a failure of ours, which stays a 5xx).
 */
export function unreadableRequestReply(error: unknown): HttpReply | undefined {
  // The router's decodeURIComponent of a path param.
  if (error instanceof URIError) return invalidRequest([{ field: 'path', message: 'is not valid percent-encoded UTF-8' }]);
  if (typeof error !== 'object' || error === null) return undefined;
  const { type, status, expose } = error as { type?: unknown; status?: unknown; expose?: unknown };
  if (typeof status !== 'number' || status < 400 || status >= 500) return undefined;
  if (type === 'entity.too.large') return errorReply(413, 'payload_too_large', 'the request body is too large');
  if (type === 'entity.parse.failed') return errorReply(400, 'malformed_json', 'the request body is not a JSON object or array');
  if (type === 'entity.not.utf8') return errorReply(400, 'malformed_json', 'the request body is not valid UTF-8');
  if (status === 415) return errorReply(415, 'unsupported_media_type', 'unsupported charset or content encoding; send uncompressed UTF-8 JSON');
  // Other client errors of body-parser (aborted, length mismatch): http-errors marks them exposable.
  if (typeof type === 'string' || expose === true) return errorReply(400, 'bad_request', 'the request body could not be read');
  return undefined;
}
