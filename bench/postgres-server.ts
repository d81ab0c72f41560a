/**
 * A throw-away PostgreSQL cluster: initdb into a fresh temporary directory, a server on a free
 * loopback port (its socket in that directory too, so nothing is shared with a system server),
 * trust authentication for 127.0.0.1 only. Tests use it with durability off (startPostgres: a
 * test cluster is discarded); benchmarks keep PostgreSQL's durable defaults, since commits are
 * part of what they measure, and may add settings of their own.
 *
 * initdb and postgres refuse to run as root; tests and benchmarks may, so as root the cluster is
 * made and run by the `postgres` system user, who then owns the directory.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';
import { freePort } from './util';

const run = promisify(execFile);

const SUPERUSER = 'postgres';

/** The bin directory of the newest PostgreSQL installed the Debian way (/usr/lib/postgresql/NN/bin). */
export function postgresBin(): string {
  const root = '/usr/lib/postgresql';
  const versions = fs.existsSync(root) ? fs.readdirSync(root).filter((v) => fs.existsSync(path.join(root, v, 'bin', 'pg_ctl'))) : [];
  versions.sort((a, b) => Number(b) - Number(a));
  if (!versions.length) throw new Error(`no PostgreSQL server under ${root} (apt-get install postgresql)`);
  return path.join(root, versions[0], 'bin');
}

/** Runs a server binary, as the postgres system user when we are root. */
interface Runner {
  (file: string, args: string[]): Promise<void>;
  /** Give the directory to whoever runs the server. */
  own(dir: string): Promise<void>;
}

async function runner(): Promise<Runner> {
  if (process.getuid?.() !== 0) {
    const exec = (async (file: string, args: string[]) => void (await run(file, args))) as Runner;
    exec.own = async () => {};
    return exec;
  }
  const uid = Number((await run('id', ['-u', 'postgres'])).stdout.trim());
  const gid = Number((await run('id', ['-g', 'postgres'])).stdout.trim());
  const exec = (async (file: string, args: string[]) => void (await run('runuser', ['-u', 'postgres', '--', file, ...args]))) as Runner;
  exec.own = async (dir: string) => fs.chownSync(dir, uid, gid);
  return exec;
}

export interface PostgresServerOptions {
  /** The database the returned url names, created at start. */
  database: string;
  /** false: fsync, synchronous_commit and full_page_writes off (a cluster nobody keeps). */
  durable: boolean;
  /** More postgresql.conf lines (`name = value`), e.g. logging or memory for a benchmark. */
  settings?: string[];
}

export interface PostgresServer {
  /** postgres://postgres@127.0.0.1:PORT/DATABASE (no password: trust). */
  url: string;
  host: string;
  port: number;
  user: string;
  /** The server's log (its stderr), for what it reported: slow statements, errors. */
  logFile: string;
  /** A further database on the same server; returns its URL. */
  createDatabase(name: string): Promise<string>;
  dropDatabase(name: string): Promise<void>;
  stop(): Promise<void>;
}

const DATABASE_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** Runs one statement as the superuser on the maintenance database. */
async function admin(port: number, sql: string): Promise<void> {
  const client = new Client({ host: '127.0.0.1', port, user: SUPERUSER, database: 'postgres', application_name: 'veilgate-admin' });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

export async function startPostgresServer(o: PostgresServerOptions): Promise<PostgresServer> {
  const bin = postgresBin();
  const exec = await runner();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'veilgate-pg-'));
  await exec.own(dir);
  const data = path.join(dir, 'data');
  const logFile = path.join(dir, 'server.log');
  try {
    await exec(path.join(bin, 'initdb'), ['-D', data, '-U', SUPERUSER, '-A', 'trust', '-E', 'UTF8', '--locale=C', '--no-sync', '--no-instructions']);
    // TCP from the loopback address only: no socket login, no other host.
    fs.writeFileSync(path.join(data, 'pg_hba.conf'), 'host all all 127.0.0.1/32 trust\n');
    if (o.settings?.length) fs.appendFileSync(path.join(data, 'postgresql.conf'), `\n${o.settings.join('\n')}\n`);
    let lastError: unknown;
    for (let attempt = 0; attempt < 3; attempt++) {
      const port = await freePort();
      const options = [
        `-p ${port}`,
        '-c listen_addresses=127.0.0.1',
        `-c unix_socket_directories=${dir}`,
        ...(o.durable ? [] : ['-c fsync=off', '-c synchronous_commit=off', '-c full_page_writes=off']),
        '-c max_connections=100',
      ].join(' ');
      try {
        await exec(path.join(bin, 'pg_ctl'), ['start', '-D', data, '-w', '-t', '60', '-l', logFile, '-o', options]);
      } catch (e) {
        lastError = e; // the port was taken meanwhile: another one
        continue;
      }
      const stop = async () => {
        await exec(path.join(bin, 'pg_ctl'), ['stop', '-D', data, '-m', 'fast', '-w']).catch(() => undefined);
        fs.rmSync(dir, { recursive: true, force: true });
      };
      const urlOf = (name: string) => `postgres://${SUPERUSER}@127.0.0.1:${port}/${name}`;
      const createDatabase = async (name: string) => {
        if (!DATABASE_NAME.test(name)) throw new Error(`not a plain database name: ${name}`);
        await admin(port, `CREATE DATABASE ${name}`);
        return urlOf(name);
      };
      try {
        await createDatabase(o.database);
      } catch (e) {
        await stop();
        throw e;
      }
      return {
        url: urlOf(o.database),
        host: '127.0.0.1',
        port,
        user: SUPERUSER,
        logFile,
        createDatabase,
        dropDatabase: async (name) => {
          if (!DATABASE_NAME.test(name)) throw new Error(`not a plain database name: ${name}`);
          await admin(port, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
        },
        stop,
      };
    }
    throw lastError;
  } catch (e) {
    const tail = fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8').slice(-2000) : '';
    fs.rmSync(dir, { recursive: true, force: true });
    throw new Error(`could not start a throw-away PostgreSQL: ${(e as Error).message}\n${tail}`);
  }
}

/** The tests' cluster: database veilgate_test, durability off. */
export interface TestPostgres {
  /** postgres://postgres@127.0.0.1:PORT/veilgate_test (no password: trust). */
  url: string;
  stop(): Promise<void>;
}

export async function startPostgres(): Promise<TestPostgres> {
  const server = await startPostgresServer({ database: 'veilgate_test', durable: false });
  return { url: server.url, stop: server.stop };
}
