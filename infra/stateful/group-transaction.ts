// A task group's shared transaction (docs/stateful-runtime.md "Task groups"):
// the rounds of the group's tasks join the open transaction, which commits
// once every round that joined it has asked to commit (group commit); one
// transaction in flight per group, each as large as the rounds ready for it.
// Once begun (its rounds send) it takes no more rounds: a round ready later
// waits for the next one instead of holding up this one's commit. So that the
// rounds being decided at the same time ride together, a transaction begins
// only once no task of the group is deciding a round (each one decided has
// joined it, or had nothing to write), or after BEGIN_WAIT_MS, whichever comes
// first: a round a few milliseconds behind joins this transaction instead of
// waiting for the next one.
//
// A round that aborts dooms the shared transaction: it is aborted once every
// round in it has settled, and the others' commits fail as well. A group whose
// transaction did not commit makes its producer again (fenced) before the next.
import type { Producer, Transaction } from 'kafkajs';
import type { TaskProducer, TaskTransaction } from './task-group';

export class SharedTransactionAborted extends Error {
  override readonly name = 'SharedTransactionAborted';
}

interface Shared {
  readonly begun: Promise<Transaction>;
  readonly done: Promise<void>;
  finished(): void;
  members: number;
  settled: number;
  aborted: boolean;
  /** Takes no more rounds: finishing, or doomed. */
  closed: boolean;
  readonly commits: Array<{ resolve(): void; reject(error: unknown): void }>;
}

/** The longest a group's next transaction waits for the rounds its tasks are deciding: a decision is a few ms; one that waits (a schema to resolve) does not hold up the others. */
export const BEGIN_WAIT_MS = 10;

export class Group {
  private producer: Promise<Producer> | undefined;
  /** Tasks deciding a round now, and who waits for them all to have decided. */
  private decidingCount = 0;
  private decided: Array<() => void> = [];
  private broken = false;
  private current: Shared | undefined;
  private last: Promise<void> = Promise.resolve();
  readonly holders = new Set<TaskProducer>();

  constructor(
    readonly id: string,
    private readonly fence: () => Promise<void>,
    private readonly make: () => Promise<Producer>,
    private readonly counted: () => void,
  ) {}

  /** The group's producer, fenced: made on first use, made again after a transaction that did not commit. */
  live(): Promise<Producer> {
    if (this.producer === undefined) {
      this.producer = this.fence().then(() => this.make());
      this.producer.catch(() => (this.producer = undefined));
    } else if (this.broken) {
      this.broken = false;
      const old = this.producer;
      this.producer = old
        .then((p) => p.disconnect())
        .catch(() => undefined)
        .then(() => this.make());
      this.producer.catch(() => {
        this.producer = undefined;
      });
    }
    return this.producer;
  }

  /** Joins the group's open transaction, or opens the next one (begun once the previous one is over and no task is deciding a round, or BEGIN_WAIT_MS later). */
  join(): Promise<TaskTransaction> {
    let shared = this.current;
    if (shared === undefined || shared.closed) {
      let finished = (): void => undefined;
      const done = new Promise<void>((resolve) => (finished = resolve));
      const previous = this.last;
      shared = { begun: previous.then(() => this.roundsDecided()).then(() => this.live()).then((p) => p.transaction()), done, finished, members: 0, settled: 0, aborted: false, closed: false, commits: [] };
      // Begun (its rounds start sending): it takes no more rounds. A round ready later goes into the next one,
      // rather than holding up the commit of the rounds already sending (each waited for the last joiner's sends).
      const s = shared;
      s.begun.then(
        () => {
          s.closed = true;
          if (this.current === s) this.current = undefined;
        },
        () => undefined,
      );
      this.current = shared;
      this.last = done;
    }
    const s = shared;
    s.members += 1;
    return s.begun.then(
      (transaction) => this.participant(s, transaction),
      (error: unknown) => {
        s.aborted = true;
        this.settle(s);
        throw error;
      },
    );
  }

  /** One more task deciding a round (`on`), or one less: it joined a transaction, or its round is over. */
  deciding(on: boolean): void {
    this.decidingCount += on ? 1 : -1;
    if (this.decidingCount > 0) return;
    this.decidingCount = 0;
    const waiting = this.decided;
    this.decided = [];
    for (const wake of waiting) wake();
  }

  /** Once no task is deciding a round, or after BEGIN_WAIT_MS. */
  private roundsDecided(): Promise<void> {
    if (this.decidingCount === 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, BEGIN_WAIT_MS);
      this.decided.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  private participant(s: Shared, transaction: Transaction): TaskTransaction {
    let settled = false;
    return {
      sendBatch: (batch) => transaction.sendBatch(batch),
      sendOffsets: (offsets) => transaction.sendOffsets(offsets),
      commit: () => {
        if (settled) return Promise.reject(new Error('this round\'s part of the transaction is settled already'));
        settled = true;
        return new Promise<void>((resolve, reject) => {
          s.commits.push({ resolve, reject });
          this.settle(s);
        });
      },
      abort: async () => {
        if (settled) return;
        settled = true;
        s.aborted = true;
        s.closed = true;
        this.settle(s);
        await s.done;
      },
    };
  }

  private settle(s: Shared): void {
    s.settled += 1;
    if (s.settled < s.members) return;
    s.closed = true;
    if (this.current === s) this.current = undefined;
    void this.finish(s);
  }

  private async finish(s: Shared): Promise<void> {
    let outcome: unknown;
    try {
      const transaction = await s.begun;
      if (s.aborted) {
        outcome = new SharedTransactionAborted('another partition\'s round in this transaction failed; the transaction was aborted');
        await transaction.abort();
      } else {
        await transaction.commit();
        this.counted();
      }
    } catch (error) {
      outcome ??= error;
    }
    if (outcome !== undefined) this.broken = true;
    for (const c of s.commits) {
      if (outcome === undefined) c.resolve();
      else c.reject(outcome);
    }
    s.finished();
  }

  /** Once the last transaction is over: the producer disconnected. */
  async close(): Promise<void> {
    await this.last;
    const producer = this.producer;
    this.producer = undefined;
    await producer?.then((p) => p.disconnect()).catch(() => undefined);
  }
}

