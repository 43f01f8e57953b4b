// Raw HTTP/1.1 over a TCP socket, for requests no well-behaved client would
// send: malformed percent-encoding, lying or conflicting framing headers, bytes
// that are not UTF-8, CR/LF/NUL where they do not belong. fetch and node:http
// normalise or refuse most of these before they leave the process.
import net from 'node:net';

export interface RawRequest {
  readonly method: string;
  /** The request target exactly as it goes on the wire (latin1: one byte per char). */
  readonly target: string;
  /** Header lines as sent: [name, value], repeats allowed, nothing added but Host (unless `noHost`). */
  readonly headers: ReadonlyArray<readonly [string, string]>;
  readonly body: Buffer;
  /** Content-Length from the body (default), chunked, or none (the caller framed it in `headers`). */
  readonly framing: 'length' | 'chunked' | 'none';
  readonly noHost?: boolean;
  /** Half-close the socket after writing (a client that says it will send nothing more). */
  readonly endAfterWrite?: boolean;
  /** Bytes sent instead of everything above (something that is not HTTP at all). */
  readonly raw?: Buffer;
}

/** What came back: a status line, or how the exchange failed. */
export type RawOutcome =
  | { readonly kind: 'status'; readonly status: number; readonly head: string }
  | { readonly kind: 'reset'; readonly detail: string }
  | { readonly kind: 'closed'; readonly detail: string }
  | { readonly kind: 'timeout'; readonly detail: string };

export function serialize(request: RawRequest): Buffer {
  if (request.raw !== undefined) return request.raw;
  const lines = [`${request.method} ${request.target} HTTP/1.1`];
  if (request.noHost !== true) lines.push('Host: 127.0.0.1');
  for (const [name, value] of request.headers) lines.push(`${name}: ${value}`);
  let body = request.body;
  if (request.framing === 'length') lines.push(`Content-Length: ${body.length}`);
  if (request.framing === 'chunked') {
    lines.push('Transfer-Encoding: chunked');
    body = Buffer.concat([Buffer.from(`${body.length.toString(16)}\r\n`), body, Buffer.from('\r\n0\r\n\r\n')]);
    if (request.body.length === 0) body = Buffer.from('0\r\n\r\n');
  }
  return Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'), body]);
}

/**
 * Sends one request on a fresh connection and reads the status line of the
 * first response. The server may close the connection after answering (that
 * is how node answers bytes that are not HTTP); closing or resetting it
 * before any status line is a failure, as is no answer within `timeoutMs`.
 */
export function sendRaw(port: number, request: RawRequest, timeoutMs = 10_000): Promise<RawOutcome> {
  const bytes = serialize(request);
  return new Promise<RawOutcome>((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    let received = Buffer.alloc(0);
    let settled = false;
    const finish = (outcome: RawOutcome): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(outcome);
    };
    const timer = setTimeout(() => finish({ kind: 'timeout', detail: `no status line within ${timeoutMs} ms` }), timeoutMs);
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      const text = received.toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      if (end < 0) return;
      const match = /^HTTP\/1\.[01] (\d{3})/.exec(text);
      if (match === null) return finish({ kind: 'closed', detail: `not an HTTP response: ${JSON.stringify(text.slice(0, 80))}` });
      finish({ kind: 'status', status: Number(match[1]), head: text.slice(0, end) });
    });
    // A write may fail once the server has answered and closed (EPIPE): what it answered still counts.
    socket.on('error', (error: NodeJS.ErrnoException) => {
      if (received.length === 0) finish({ kind: 'reset', detail: `${error.code ?? error.message} before any response` });
    });
    socket.on('close', () => finish({ kind: 'closed', detail: `closed after ${received.length} bytes: ${JSON.stringify(received.toString('latin1').slice(0, 80))}` }));
    socket.write(bytes, () => {
      if (request.endAfterWrite === true) socket.end();
    });
  });
}
