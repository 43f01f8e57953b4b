// A small steady load of commands through a gateway, as a client with a
// deadline of its own would send it: every request is timed and its status
// kept, so a test can check how each was answered and when 2xx came back.
import { adminAuthorization } from './http';

export interface Answer {
  /** Epoch ms the request was sent and answered (or given up on). */
  readonly sentAt: number;
  readonly answeredAt: number;
  /** The HTTP status, or 0 when the connection failed or the client's own deadline ran out. */
  readonly status: number;
}

export interface SteadyLoad {
  readonly answers: readonly Answer[];
  /** Answers to requests sent at or after `since`. */
  after(since: number): Answer[];
  stop(): Promise<void>;
}

let counter = 0;

/** `clients` loops, each posting a new menu item, then waiting `pauseMs`, until stop(). */
export function steadyLoad(gatewayUrl: string, { clients = 3, pauseMs = 100, clientTimeoutMs = 30_000 } = {}): SteadyLoad {
  const answers: Answer[] = [];
  let running = true;
  const loop = async (): Promise<void> => {
    const auth = await adminAuthorization();
    while (running) {
      counter += 1;
      const sentAt = Date.now();
      let status = 0;
      try {
        const res = await fetch(`${gatewayUrl}/menu/items`, {
          method: 'POST',
          headers: { ...auth, 'content-type': 'application/json', 'Idempotency-Key': `steady-${process.pid}-${sentAt}-${counter}` },
          body: JSON.stringify({ name: `Steady dish ${counter}`, description: '', category: 'MAIN', price: { amountMinor: 900, currency: 'EUR' } }),
          signal: AbortSignal.timeout(clientTimeoutMs),
        });
        await res.arrayBuffer();
        status = res.status;
      } catch {
        status = 0;
      }
      answers.push({ sentAt, answeredAt: Date.now(), status });
      await new Promise((resolve) => setTimeout(resolve, pauseMs));
    }
  };
  const loops = Array.from({ length: clients }, loop);
  return {
    answers,
    after: (since) => answers.filter((a) => a.sentAt >= since),
    async stop() {
      running = false;
      await Promise.all(loops);
    },
  };
}
