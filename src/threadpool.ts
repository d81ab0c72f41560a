/**
 * libuv's thread pool runs every file operation; its default of four threads means four fsyncs
 * at a time, and an open or a read waits behind them. The disk keeps many more in flight
 * (about 1,200 fsynced 512 kB files/s at 16 against 560 at 4 on the development machine), so
 * ingest gets 16 unless the administrator sets UV_THREADPOOL_SIZE. Imported first, before any
 * file operation creates the pool.
 */
const DEFAULT_THREADPOOL_SIZE = 16;

if (!process.env.UV_THREADPOOL_SIZE) process.env.UV_THREADPOOL_SIZE = String(DEFAULT_THREADPOOL_SIZE);
