/** Runs every benchmark in turn (`npm run bench`). */
import { main as core } from './core';

async function runAll(): Promise<void> {
  await core();
}

runAll().catch((e) => {
  console.error(e);
  process.exit(1);
});
