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

/**
 * Runs a script's main function; whatever happens (an error, Ctrl-C, SIGTERM), what it created is
 * undone before the process exits.
 */
export function runMain(main: () => Promise<void>): void {
  let interrupted = false;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (interrupted) return;
      interrupted = true;
      console.log(`${signal}: stopping children, dropping databases, deleting queue keys`);
      void cleanup().finally(() => process.exit(130));
    });
  }
  // A promise left unawaited that fails would otherwise end the process before the cleanup.
  process.on('unhandledRejection', (error) => {
    console.error(error);
    process.exitCode = 1;
    void cleanup().finally(() => process.exit(1));
  });
  main()
    .catch((error: unknown) => {
      console.error(error);
      process.exitCode = 1;
    })
    .finally(async () => {
      if (interrupted) return;
      await cleanup();
      // Stray handles (a keep-alive socket, a BullMQ connection) must not keep the run alive.
      process.exit(process.exitCode ?? 0);
    });
}
