/**
 * The worker thread of the pool: runs one task at a time and answers with its result, or with
 * the error as data. Nothing here touches the index or the store: tasks take bytes and give
 * bytes, so the main thread keeps every decision about who may see what.
 */
import { parentPort, type Transferable } from 'node:worker_threads';
import { VeilgateError, messageOf } from '../errors';
import { quietDicomLibraries } from '../quiet-libraries';
import { prepareInstance } from '../ingest/prepare';
import { codecsReady, decodeFrameNow } from '../imaging/decode';
import { renderTask } from '../imaging/render-task';
import { transcodeInstance } from '../imaging/transcode';
import { joinChunks } from '../dicom/encode';
import { owned } from './transfer';
import { niftiSeriesTask } from '../convert/nifti-series-task';
import { flipFrames } from '../convert/place-slices';
import type { TaskInput, TaskName, TaskOutput } from './tasks';
import type { WorkerReply } from './pool';

type Handler<T extends TaskName> = (input: TaskInput<T>) => Promise<{ value: TaskOutput<T>; transfer?: Transferable[] }>;


const HANDLERS: { [T in TaskName]: Handler<T> } = {
  'prepare-instance': async ({ input, ctx }) => {
    const value = await prepareInstance(input, ctx);
    return { value, transfer: value.ok ? [value.prepared.bytes.buffer as ArrayBuffer] : [] };
  },
  'decode-frames': async ({ frames, transferSyntaxUID, pixels }) => {
    await codecsReady();
    const value = frames.map((f) => owned(decodeFrameNow(f, transferSyntaxUID, pixels)));
    return { value, transfer: value.map((v) => v.buffer as ArrayBuffer) };
  },
  render: async (input) => {
    const value = owned(await renderTask(input));
    return { value, transfer: [value.buffer as ArrayBuffer] };
  },
  transcode: async ({ file, stored, target, frames }) => {
    const value = joinChunks(await transcodeInstance(file, stored, target, frames));
    return { value, transfer: [value.buffer as ArrayBuffer] };
  },
  'place-slices': async (input) => {
    // The same frames go back (moved, so this thread keeps no handle on them).
    const value = flipFrames(input).map(owned);
    return { value, transfer: value.map((v) => v.buffer as ArrayBuffer) };
  },
  'nifti-to-series': async (input) => {
    const value = await niftiSeriesTask(input);
    return { value, transfer: value.ok ? value.instances.map((b) => b.buffer as ArrayBuffer) : [] };
  },
};

quietDicomLibraries();

parentPort!.on('message', async (m: { id: number; task: TaskName; input: never }) => {
  let reply: WorkerReply;
  let transfer: Transferable[] = [];
  try {
    const handler = HANDLERS[m.task] as Handler<TaskName>;
    if (!handler) throw new Error(`no such task: ${m.task}`);
    const done = await handler(m.input);
    reply = { id: m.id, ok: true, value: done.value };
    transfer = done.transfer ?? [];
  } catch (e) {
    reply =
      e instanceof VeilgateError
        ? { id: m.id, ok: false, kind: e.kind, message: e.message }
        : { id: m.id, ok: false, message: messageOf(e), name: (e as Error)?.name, code: (e as NodeJS.ErrnoException)?.code };
  }
  parentPort!.postMessage(reply, transfer);
});
