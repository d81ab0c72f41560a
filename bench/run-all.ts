/** Runs every benchmark in turn (`npm run bench`). */
import { main as core } from './core';
import { main as deid } from './deid';
import { main as dimse } from './dimse';

async function runAll(): Promise<void> {
  await core();
  await deid();
  await dimse();
}

runAll().catch((e) => {
  console.error(e);
  process.exit(1);
});
