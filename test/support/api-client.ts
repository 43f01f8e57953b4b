// The HTTP calls of the least-privilege e2e test go through here. `call`
// signs each with an admin token from the stack's local key (test/support/http.ts):
// the test is about what the broker and Redis allow each role, and an admin
// may use every route of the gateway and the query API.
import { call, type Reply } from './http';

export function api(base: string, method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown): Promise<Reply> {
  return call(base, method, path, body);
}
