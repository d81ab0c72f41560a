/**
 * INDEX_URL for PostgreSQL: `postgres://user@host:port/database` (or `postgresql://`). The
 * password never sits in the URL (a URL carrying one is refused, see core/backends-config.ts): it
 * comes from the config file or PGPASSWORD, and is handed to pg apart from anything logged.
 */
export interface PostgresTarget {
  host: string;
  port: number;
  user: string;
  database: string;
  /** `?sslmode=verify-full`: TLS with the server's certificate checked; default none. */
  ssl: boolean;
}

const SCHEMES = ['postgres:', 'postgresql:'];
const SSL_MODES: Record<string, boolean> = { disable: false, 'verify-full': true };

/** The URL with any password replaced, safe to print in a message or a log. */
export function redactedIndexUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    // Not a URL at all: still print nothing that may follow a colon after a user name.
    return url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
  }
}

export function parsePostgresUrl(url: string): PostgresTarget {
  const fail = (why: string) => new Error(`configuration: INDEX_URL ${redactedIndexUrl(url)}: ${why}`);
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw fail('is not a URL (postgres://user@host:port/database)');
  }
  if (!SCHEMES.includes(u.protocol)) throw fail('is not a postgres:// URL');
  if (u.password) throw fail('must not hold the password: set PGPASSWORD or indexPassword in the config file');
  if (!u.hostname) throw fail('names no host');
  const database = decodeURIComponent(u.pathname.replace(/^\//, ''));
  if (!database || database.includes('/')) throw fail('names no database (postgres://user@host:port/database)');
  const user = decodeURIComponent(u.username);
  if (!user) throw fail('names no user (postgres://user@host:port/database)');
  const port = u.port ? Number(u.port) : 5432;
  let ssl = false;
  for (const [name, value] of u.searchParams) {
    if (name !== 'sslmode' || !(value in SSL_MODES)) throw fail(`unknown option ${name}=${value} (known: sslmode=disable|verify-full)`);
    ssl = SSL_MODES[value];
  }
  // An IPv6 literal comes bracketed from URL; pg wants it bare.
  return { host: u.hostname.replace(/^\[(.*)\]$/, '$1'), port, user, database, ssl };
}
