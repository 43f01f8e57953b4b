// Live channels: a screen subscribes to the channel its data lives on and is
// told when something there changed. Channels are named after the query API's
// live streams (docs/web-ui.md): `menu`, `kitchen`, `courier`, `order:<id>`,
// `customer-orders:<id>`, `sales`.
//
// Until the query API streams a channel, it is polled: every subscriber of a
// channel shares one timer, and a hidden tab polls less often.
const POLL_MS = 500;
const HIDDEN_POLL_MS = 5000;

interface Channel {
  readonly listeners: Set<() => void>;
  timer: ReturnType<typeof setTimeout> | undefined;
}

const channels = new Map<string, Channel>();

function schedule(name: string, channel: Channel): void {
  const delay = document.visibilityState === 'hidden' ? HIDDEN_POLL_MS : POLL_MS;
  channel.timer = setTimeout(() => {
    for (const listener of channel.listeners) listener();
    if (channels.get(name) === channel) schedule(name, channel);
  }, delay);
}

/** Calls `onChange` whenever the channel may have changed; returns the unsubscribe. */
export function subscribe(name: string, onChange: () => void): () => void {
  let channel = channels.get(name);
  if (channel === undefined) {
    channel = { listeners: new Set(), timer: undefined };
    channels.set(name, channel);
    schedule(name, channel);
  }
  channel.listeners.add(onChange);
  const mine = channel;
  return () => {
    mine.listeners.delete(onChange);
    if (mine.listeners.size === 0) {
      clearTimeout(mine.timer);
      channels.delete(name);
    }
  };
}
