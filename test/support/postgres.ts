/**
 * A throw-away PostgreSQL cluster for tests: initdb into a fresh temporary directory, a server on
 * a free loopback port (its socket in that directory too, so nothing is shared with a system
 * server), trust authentication for 127.0.0.1 only, durability off (a test cluster is discarded).
 *
 * initdb and postgres refuse to run as root; tests may, so as root the cluster is made and run by
 * the `postgres` system user, who then owns the directory.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';

const run = promisify(execFile);

const SUPERUSER = 'postgres';
const DATABASE = 'veilgate_test';

/** The bin directory of the newest PostgreSQL installed the Debian way (/usr/lib/postgresql/NN/bin). */
function postgresBin(): string {
  const root = '/usr/lib/postgresql';
  const versions = fs.existsSync(root) ? fs.readdirSync(root).filter((v) => fs.existsSync(path.join(root, v, 'bin', 'pg_ctl'))) : [];
  versions.sort((a, b) => Number(b) - Number(a));
  if (!versions.length) throw new Error(`no PostgreSQL server under ${root} (apt-get install postgresql)`);
  return path.join(root, versions[0], 'bin');
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
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

export interface TestPostgres {
  /** postgres://postgres@127.0.0.1:PORT/veilgate_test (no password: trust). */
  url: string;
  stop(): Promise<void>;
}

export async function startPostgres(): Promise<TestPostgres> {
  const bin = postgresBin();
  const exec = await runner();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'veilgate-pg-'));
  await exec.own(dir);
  const data = path.join(dir, 'data');
  try {
    await exec(path.join(bin, 'initdb'), ['-D', data, '-U', SUPERUSER, '-A', 'trust', '-E', 'UTF8', '--locale=C', '--no-sync', '--no-instructions']);
    // TCP from the loopback address only: no socket login, no other host.
    fs.writeFileSync(path.join(data, 'pg_hba.conf'), 'host all all 127.0.0.1/32 trust\n');
    let lastError: unknown;
    for (let attempt = 0; attempt < 3; attempt++) {
      const port = await freePort();
      const options = [
        `-p ${port}`,
        '-c listen_addresses=127.0.0.1',
        `-c unix_socket_directories=${dir}`,
        '-c fsync=off',
        '-c synchronous_commit=off',
        '-c full_page_writes=off',
        '-c max_connections=100',
      ].join(' ');
      try {
        await exec(path.join(bin, 'pg_ctl'), ['start', '-D', data, '-w', '-t', '60', '-l', path.join(dir, 'server.log'), '-o', options]);
      } catch (e) {
        lastError = e; // the port was taken meanwhile: another one
        continue;
      }
      const admin = new Client({ host: '127.0.0.1', port, user: SUPERUSER, database: 'postgres' });
      await admin.connect();
      try {
        await admin.query(`CREATE DATABASE ${DATABASE}`);
      } finally {
        await admin.end();
      }
      return {
        url: `postgres://${SUPERUSER}@127.0.0.1:${port}/${DATABASE}`,
        stop: async () => {
          await exec(path.join(bin, 'pg_ctl'), ['stop', '-D', data, '-m', 'fast', '-w']).catch(() => undefined);
          fs.rmSync(dir, { recursive: true, force: true });
        },
      };
    }
    throw lastError;
  } catch (e) {
    const log = path.join(dir, 'server.log');
    const tail = fs.existsSync(log) ? fs.readFileSync(log, 'utf8').slice(-2000) : '';
    fs.rmSync(dir, { recursive: true, force: true });
    throw new Error(`could not start a test PostgreSQL: ${(e as Error).message}\n${tail}`);
  }
}
