// End-to-end tests start roles and push load through the real stack.
jest.setTimeout(180_000);
