// Everything the run creates (processes, databases, queue keys) registers how to undo it here, so
// that a normal end, an error and Ctrl-C all leave the shared PostgreSQL and Redis as they were.

const tasks: { label: string; undo: () => Promise<void> }[] = [];
let running: Promise<void> | undefined;

export function onCleanup(label: string, undo: () => Promise<void>): void {
  tasks.push({ label, undo });
}

/** Undoes in reverse order (children stop before their database is dropped); safe to call twice. */
export function cleanup(): Promise<void> {
  running ??= (async () => {
    while (tasks.length > 0) {
      const task = tasks.pop()!;
      try {
        await task.undo();
      } catch (error) {
        console.error(`cleanup: ${task.label} failed: ${(error as Error).message}`);
      }
    }
  })();
  return running;
}
