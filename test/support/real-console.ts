/**
 * Gives the test file Node's own console, writing to process.stdout and process.stderr as in
 * production, instead of jest's buffered one. Import it before anything that logs through
 * `console` (libraries bind console methods when they load), so a test that watches the
 * process streams sees every line a library would print.
 */
import { Console } from 'node:console';

globalThis.console = new Console({ stdout: process.stdout, stderr: process.stderr });
