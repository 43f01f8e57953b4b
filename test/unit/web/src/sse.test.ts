import { SseParser } from '../../../../web/src/sse';

describe('SseParser (the live streams as the browser reads them)', () => {
  it('dispatches events at a blank line, with their type, data and the last id', () => {
    const p = new SseParser();
    const events = p.push('retry: 2000\n\nid: 7\nevent: snapshot\ndata: {"a":1}\n\n: keep-alive\n\nid: 8\nevent: change\ndata: {"b":2}\n\n');
    expect(events).toEqual([
      { type: 'snapshot', data: '{"a":1}', lastEventId: '7' },
      { type: 'change', data: '{"b":2}', lastEventId: '8' },
    ]);
    expect(p.retryMs).toBe(2000);
    expect(p.lastEventId).toBe('8');
  });

  it('joins an event split anywhere across chunks, CRLF included', () => {
    const text = 'id: 1\r\nevent: change\r\ndata: line one\r\ndata: line two\r\n\r\n';
    for (let cut = 1; cut < text.length; cut += 1) {
      const p = new SseParser();
      const events = [...p.push(text.slice(0, cut)), ...p.push(text.slice(cut))];
      expect(events).toEqual([{ type: 'change', data: 'line one\nline two', lastEventId: '1' }]);
    }
  });

  it('ignores comments, unknown fields and a bad retry; the last id persists to events without one', () => {
    const p = new SseParser();
    expect(p.push(': hi\n\nfoo: bar\nretry: soon\n\n')).toEqual([]);
    expect(p.retryMs).toBeUndefined();
    expect(p.push('id: 3\ndata: a\n\ndata: x\n\n')).toEqual([
      { type: 'message', data: 'a', lastEventId: '3' },
      { type: 'message', data: 'x', lastEventId: '3' },
    ]);
  });

  it('keeps an unfinished event until its blank line arrives', () => {
    const p = new SseParser();
    expect(p.push('data: half')).toEqual([]);
    expect(p.push('\n')).toEqual([]);
    expect(p.push('\n')).toEqual([{ type: 'message', data: 'half', lastEventId: '' }]);
  });
});
