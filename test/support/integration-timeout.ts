// Integration tests wait on real brokers (group joins, transactions, the log cleaner).
jest.setTimeout(60_000);
