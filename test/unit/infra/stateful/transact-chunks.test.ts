import type { Message } from 'kafkajs';
import { chunks, REQUEST_BYTES } from '../../../../infra/stateful/transact';

const message = (key: string, bytes: number): Message => ({ key, value: Buffer.alloc(bytes), partition: 0 });

describe("a round's messages in requests of bounded size", () => {
  it('keeps a small round in one request, in order, per topic', () => {
    const byTopic = new Map([
      ['changelog', [message('a', 100), message('b', 100)]],
      ['commands', [message('c', 100)]],
    ]);
    const out = [...chunks(byTopic)];
    expect(out).toHaveLength(1);
    expect([...(out[0] ?? new Map<string, Message[]>())].map(([topic, ms]) => [topic, ms.map((m) => m.key)])).toEqual([
      ['changelog', ['a', 'b']],
      ['commands', ['c']],
    ]);
  });

  it('splits a large round so no request carries more than the bound, keeping every message once and in order', () => {
    const states = Array.from({ length: 3000 }, (_, i) => message(`s${i}`, 400));
    const emitted = Array.from({ length: 1000 }, (_, i) => message(`e${i}`, 300));
    const out = [...chunks(new Map([['changelog', states], ['commands', emitted]]))];
    expect(out.length).toBeGreaterThan(2);
    for (const chunk of out) {
      const bytes = [...chunk.values()].flat().reduce((n, m) => n + (m.value as Buffer).length + 64 + String(m.key).length, 0);
      expect(bytes).toBeLessThanOrEqual(REQUEST_BYTES);
    }
    const keysOf = (topic: string) => out.flatMap((c) => (c.get(topic) ?? []).map((m) => m.key));
    expect(keysOf('changelog')).toEqual(states.map((m) => m.key));
    expect(keysOf('commands')).toEqual(emitted.map((m) => m.key));
  });

  it('sends a single message larger than the bound on its own (the broker decides)', () => {
    const out = [...chunks(new Map([['changelog', [message('small', 10), message('huge', REQUEST_BYTES * 2), message('after', 10)]]]))];
    expect(out.map((c) => (c.get('changelog') ?? []).map((m) => m.key))).toEqual([['small'], ['huge'], ['after']]);
  });
});
