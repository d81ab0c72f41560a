/** Runs every benchmark in turn (`npm run bench`). */
import { main as core } from './core';
import { main as deid } from './deid';
import { main as dimse } from './dimse';
import { main as nifti } from './nifti';
import { main as processing } from './processing';
import { main as viewer } from './viewer';
import { main as stow } from './stow';
import { main as backgroundLoad } from './background-load';
import { main as scaleOut } from './scale-out';

async function runAll(): Promise<void> {
  await stow();
  await backgroundLoad();
  await core();
  await deid();
  await dimse();
  await nifti();
  await processing();
  await viewer();
  // Last: at its default scale (a million instances on two backends) it runs for hours.
  await scaleOut();
}

runAll().catch((e) => {
  console.error(e);
  process.exit(1);
});
