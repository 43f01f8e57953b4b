// Redis 7 ACL users as data, and applying them: `ACL SETUSER <name> reset on
// >password <rules>` replaces a user's whole definition in one command, so
// applying twice is applying once. The catalog of users is
// app/redis-access.ts; docs/least-privilege.md explains it.
import type Redis from 'ioredis';

export interface RedisAclUser {
  readonly name: string;
  /** ACL rules after `reset on >password`: `~pattern`, `%R~pattern`, `&channel`, `+@category`, `-command`... */
  readonly rules: readonly string[];
}

/** The arguments of ACL SETUSER for this user and password. */
export function setUserArgs(user: RedisAclUser, password: string): string[] {
  if (!/^[A-Za-z0-9._:-]+$/.test(user.name)) throw new Error(`Redis user name ${JSON.stringify(user.name)} must be letters, digits and . _ : -`);
  if (password.length < 16 || /\s/.test(password)) throw new Error(`the password of Redis user ${user.name} must be at least 16 characters without spaces`);
  return ['SETUSER', user.name, 'reset', 'on', `>${password}`, ...user.rules];
}

/** Creates or redefines each user; never touches any other user (the default user included). */
export async function applyRedisUsers(redis: Redis, users: readonly RedisAclUser[], passwordOf: (name: string) => string): Promise<void> {
  for (const user of users) {
    const args = setUserArgs(user, passwordOf(user.name));
    try {
      await redis.call('ACL', ...args);
    } catch (cause) {
      throw new Error(`ACL SETUSER ${user.name} failed: ${(cause as Error).message}`, { cause });
    }
  }
}

export async function deleteRedisUsers(redis: Redis, names: readonly string[]): Promise<void> {
  if (names.length > 0) await redis.call('ACL', 'DELUSER', ...names);
}

/** A Redis URL with a user's credentials in it (what REDIS_URL takes). */
export function urlWithUser(base: string, name: string, password: string): string {
  const url = new URL(base);
  url.username = encodeURIComponent(name);
  url.password = encodeURIComponent(password);
  return url.toString().replace(/\/$/, '');
}
