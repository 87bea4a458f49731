import { setImmediate as yieldToEvents } from 'node:timers/promises';
import type { Worker } from 'node:worker_threads';

/**
 * Tasks spread over worker threads (and, with `runHere`, the calling thread too), their results
 * handed back in task order. At most `window` tasks are in flight or waiting to be handed back, so
 * memory stays bounded whatever the number of tasks. Workers answer `{ id, task }` messages with
 * `{ id, result }` or `{ id, error }`.
 */
export interface OrderedPoolOptions<T, R> {
  tasks: readonly T[];
  workers: readonly Worker[];
  /** Runs a task on the calling thread, which then works as one more worker. */
  runHere?: (task: T) => R | Promise<R>;
  window: number;
  /** Receives each result in task order; may return a promise to apply backpressure. */
  onResult: (task: T, result: R, index: number) => void | Promise<void>;
  /** Workers say `{ ready: true }` before they take tasks (they have set-up to do first). */
  waitReady?: boolean;
  /** Extra fields for each task message (e.g. a render mode). */
  message?: Record<string, unknown>;
}

export async function runOrdered<T, R>(o: OrderedPoolOptions<T, R>): Promise<void> {
  if (!o.workers.length && !o.runHere) throw new Error('runOrdered: no thread to run the tasks on');
  const done = new Map<number, R>();
  let next = 0; // next task to start
  let handed = 0; // next result to hand back
  let failure: unknown;
  let wake: (() => void) | undefined;
  const notify = () => {
    wake?.();
    wake = undefined;
  };
  const idle: Worker[] = o.waitReady ? [] : [...o.workers];
  const canStart = () => next < o.tasks.length && next < handed + o.window;
  const dispatch = () => {
    while (idle.length && canStart()) {
      const id = next++;
      idle.pop()!.postMessage({ ...o.message, id, task: o.tasks[id] });
    }
  };
  const listeners = o.workers.map((w) => {
    const onMessage = (msg: { id: number; result?: R; error?: string; ready?: boolean }) => {
      if (msg.ready) {
        idle.push(w);
        return notify();
      }
      if (msg.error !== undefined) failure ??= new Error(msg.error);
      else done.set(msg.id, msg.result as R);
      idle.push(w);
      notify();
    };
    const onError = (e: unknown) => {
      failure ??= e;
      notify();
    };
    const onExit = (code: number) => onError(new Error(`a worker thread stopped (exit code ${code})`));
    w.on('message', onMessage);
    w.on('error', onError);
    w.on('exit', onExit);
    return () => {
      w.off('message', onMessage);
      w.off('error', onError);
      w.off('exit', onExit);
    };
  });
  try {
    while (handed < o.tasks.length) {
      if (failure) throw failure;
      dispatch();
      if (done.has(handed)) {
        const r = done.get(handed)!;
        done.delete(handed);
        await o.onResult(o.tasks[handed]!, r, handed);
        handed++;
        continue;
      }
      if (o.runHere && canStart()) {
        const id = next++;
        done.set(id, await o.runHere(o.tasks[id]!));
        // Let the workers' answers in before the next task here.
        await yieldToEvents();
        continue;
      }
      await new Promise<void>((resolve) => (wake = resolve));
    }
    if (failure) throw failure;
  } finally {
    for (const off of listeners) off();
  }
}
