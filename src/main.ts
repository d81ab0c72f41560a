/** `npm start`: run the gateway on the embedded default (SQLite index, files under DATA_DIR). */
import './threadpool';
import { loadConfig } from './config';
import { startGateway } from './server';
import { log } from './log';

async function main(): Promise<void> {
  const gateway = await startGateway(loadConfig());
  const stop = () => {
    log.info('stopping');
    gateway.close().then(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((e) => {
  log.error('start-failed', { error: (e as Error).message });
  process.exit(1);
});
