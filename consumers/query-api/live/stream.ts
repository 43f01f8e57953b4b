// One subscriber of a collection feed: a snapshot (or, after a Last-Event-ID
// the feed still keeps, nothing), then each change past its cursor, written
// only while the socket takes data (docs/live-updates.md, "Slow clients and
// memory"). A subscriber that falls behind the changes the feed keeps gets the
// current state as a snapshot instead.
import type { Request, Response } from 'express';
import { principalOf } from '../../../infra/auth/express';
import type { CollectionFeed } from './feed';
import type { LiveHub } from './hub';
import type { LiveCollection } from './sources';
import { SseStream } from './sse';

export function streamFeed<Item>(
  req: Request,
  res: Response,
  feed: CollectionFeed<Item>,
  collection: Pick<LiveCollection<Item>, 'snapshot' | 'entry' | 'callerKind'>,
  deps: { readonly live: LiveHub; readonly clock: () => number },
): SseStream {
  const caller = principalOf(res);
  const kind = collection.callerKind(caller);
  const sse = new SseStream(res, deps.live.settings.heartbeatMs);
  deps.live.track(sse);
  const sendSnapshot = (): number => {
    const { seq, items } = feed.current;
    sse.send(feed.idOf(seq), 'snapshot', JSON.stringify(collection.snapshot(items, caller, deps.clock())));
    return seq;
  };
  const lastEventId = req.get('last-event-id');
  let sent = (lastEventId === undefined ? null : feed.resumeSeq(lastEventId)) ?? sendSnapshot();
  const pump = (): void => {
    while (sse.writable && sent < feed.current.seq) {
      const change = feed.changeAt(sent + 1);
      // Fell behind the changes the feed keeps: the current state replaces what the client has.
      if (change === undefined) {
        sent = sendSnapshot();
        continue;
      }
      let data = change.rendered.get(kind);
      if (data === undefined) {
        const now = deps.clock();
        data = JSON.stringify({ upserted: change.upserted.map((item) => collection.entry(item, caller, now)), removed: change.removed });
        change.rendered.set(kind, data);
      }
      sse.send(feed.idOf(change.seq), 'change', data);
      sent = change.seq;
    }
  };
  const unsubscribe = feed.subscribe({ notify: pump, end: () => sse.end() });
  sse.onDrain(pump);
  sse.onClose(unsubscribe);
  pump();
  return sse;
}
