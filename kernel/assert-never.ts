// The end of every switch over a union (commands, events, outcomes): fails to
// compile when a member is not handled, and throws if a value the types did not
// foresee arrives at run time anyway.

export function assertNever(value: never, what: string): never {
  throw new Error(`unhandled ${what}: ${JSON.stringify(value)}`);
}
