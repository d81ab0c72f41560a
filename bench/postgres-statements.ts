/**
 * Where a benchmark's time went inside PostgreSQL: pg_stat_statements (the server must preload
 * it: STATEMENT_SETTINGS), read between phases and reset, so each phase's statements are its own.
 */
import { Client } from 'pg';

export const STATEMENT_SETTINGS = ["shared_preload_libraries = 'pg_stat_statements'", "pg_stat_statements.track = 'top'"];

export interface StatementStats {
  database: string;
  query: string;
  calls: number;
  meanMs: number;
  maxMs: number;
  totalMs: number;
}

async function withClient<T>(url: string, fn: (c: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: url, application_name: 'veilgate-bench' });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Make the view available in the database `url` names (the counts themselves cover every database). */
export const enableStatements = (url: string) => withClient(url, (c) => c.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements')).then(() => undefined);

export const resetStatements = (url: string) => withClient(url, (c) => c.query('SELECT pg_stat_statements_reset()')).then(() => undefined);

/**
 * The statements since the last reset, the costliest first by `by`; per database (a dropped one
 * shows as its oid), or `acrossDatabases` summed over all, for a phase that used many.
 */
export function topStatements(url: string, by: 'total' | 'mean', limit: number, acrossDatabases = false): Promise<StatementStats[]> {
  const order = by === 'total' ? 'total_exec_time' : 'mean_exec_time';
  const database = acrossDatabases ? "'(all databases)'" : 'coalesce(d.datname, s.dbid::text)';
  return withClient(url, async (c) => {
    const r = await c.query(
      `SELECT ${database} AS database, s.query, sum(s.calls) AS calls, sum(s.total_exec_time) / sum(s.calls) AS mean_exec_time,
              max(s.max_exec_time) AS max_exec_time, sum(s.total_exec_time) AS total_exec_time
         FROM pg_stat_statements s LEFT JOIN pg_database d ON d.oid = s.dbid
        WHERE s.query NOT LIKE '%pg_stat_statements%' GROUP BY 1, 2 ORDER BY ${order} DESC LIMIT $1`,
      [limit],
    );
    return r.rows.map((x) => ({
      database: x.database,
      query: String(x.query).replace(/\s+/g, ' ').slice(0, 110),
      calls: Number(x.calls),
      meanMs: Number(x.mean_exec_time),
      maxMs: Number(x.max_exec_time),
      totalMs: Number(x.total_exec_time),
    }));
  });
}

export function printStatements(title: string, rows: StatementStats[]): void {
  console.log(title);
  for (const s of rows) {
    console.log(
      `  ${(s.totalMs / 1000).toFixed(1).padStart(7)} s in ${String(s.calls).padStart(8)} calls, mean ${s.meanMs.toFixed(2)} ms, max ${s.maxMs.toFixed(0)} ms  ${s.database}: ${s.query}`,
    );
  }
}
