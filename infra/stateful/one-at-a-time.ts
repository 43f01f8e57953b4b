// Calls of an async function run one after another, each starting once the
// previous one has settled (resolved or failed). The runtime takes on its
// group's assignments this way: kafkajs reports each join at once, so a new
// assignment can arrive while the previous one is still loading its
// partitions, and two loads of one partition would open its store twice
// (docs/stateful-runtime.md "Assignment"; docs/chaos.md "Issue #16's findings").
export function oneAtATime<A extends unknown[]>(fn: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
  let last: Promise<void> = Promise.resolve();
  return (...args: A): Promise<void> => {
    const run = last.catch(() => undefined).then(() => fn(...args));
    last = run;
    return run;
  };
}
