// The HTTP calls of the least-privilege e2e test go through here, so that the
// credentials the gateway and query API ask for (a bearer token, once they
// authenticate) are added in one place.
import { call, type Reply } from './http';

/** Headers every call carries: none while the HTTP APIs are open. */
export function authHeaders(): Record<string, string> {
  return {};
}

export function api(base: string, method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown): Promise<Reply> {
  return call(base, method, path, body, authHeaders());
}
