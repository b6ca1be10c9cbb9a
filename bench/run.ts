// `npm run bench -- [--scale <factor>] [--only <phase,...>]`: builds, then measures the real web
// and worker processes (from dist/) phase by phase, and writes bench/results/latest.{json,md,svg}.
import { rmSync } from 'node:fs';
import os from 'node:os';
import { runMain } from './cleanup';
import type { Context } from './context';
import type { LoadRequest } from './load';
import { runCost } from './phases/cost';
import { runDrain, runNaive } from './phases/drain';
import { runFeed } from './phases/feed';
import { runReplay } from './phases/replay';
import { runFreshness } from './phases/freshness';
import { fillBacklog, ingestRequests, runCeiling, runIngest } from './phases/throughput';
import { machine, serviceVersion } from './machine';
import { LOG_DIR, snapshotBuild } from './processes';
import { writeReport } from './report';
import type { BenchResults } from './results';
import { RssSampler } from './rss';
import { rebuildModel, seedInteractions } from './seed';
import { parseArgs, type Phase } from './settings';
import { Stack } from './stack';
import { Workload } from './workload';

const log = (message: string) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${message}`);

async function main(): Promise<void> {
  const settings = parseArgs(process.argv.slice(2));
  const started = performance.now();
  rmSync(LOG_DIR, { recursive: true, force: true }); // this run's logs only
  const rss = new RssSampler();
  const ctx: Context = { settings, rss, log };
  const bench: BenchResults = {
    startedAt: new Date().toISOString(),
    scale: settings.scale,
    phases: settings.phases,
    logLevel: 'warn',
    nodeOptions: settings.nodeOptions,
    service: serviceVersion(),
    machine: await machine(),
    settings,
    results: {},
    rssPeakMb: rss.peaks,
    errors: {},
  };
  log(`scale ${settings.scale}, phases: ${settings.phases.join(', ')}`);
  log(`running the build from ${await snapshotBuild()} (a copy of dist/)`);

  // The ingest deployment carries ceiling → ingest → drain → freshness: the requests the ceiling
  // and ingest send, the backlog ingest leaves, the drained service freshness is measured on.
  let ingestStack: Stack | undefined;
  let workload: Workload | undefined;
  let requests: LoadRequest[] = [];
  const ingestDeployment = async () => {
    if (!ingestStack) {
      log('  creating the ingest database and events');
      ingestStack = await Stack.create(ctx, 'ingest', settings.ingest.events);
      log(`  loading ${settings.ingest.history} interactions of the same users by SQL, and building the model`);
      await seedInteractions(ingestStack.pool, { count: settings.ingest.history, users: settings.ingest.users });
      const built = await rebuildModel(ingestStack.env(), settings.capsS.ingestRebuild);
      if (!built.completed) throw new Error(`the model of the ingest history was not built: ${built.message}`);
      workload = new Workload(ingestStack.eventIds, settings.ingest.users, 42, true);
      requests = ingestRequests(workload, Math.min(Math.max(settings.ingest.backlog, 5000), 60_000));
    }
    return { stack: ingestStack, workload: workload! };
  };
  let backlog: number | undefined;
  let drained = false;

  const phases: Record<Phase, () => Promise<void>> = {
    ceiling: async () => {
      await ingestDeployment();
      bench.results.ceiling = await runCeiling(ctx, requests);
    },
    ingest: async () => {
      const { stack, workload } = await ingestDeployment();
      bench.results.ingest = await runIngest(ctx, stack, requests, workload, bench.results.ceiling);
      backlog = bench.results.ingest.accepted.total;
    },
    drain: async () => {
      const { stack, workload } = await ingestDeployment();
      if (backlog === undefined) {
        // Run without the ingest phase: make the backlog through the API first, untimed.
        await stack.startWeb();
        backlog = (await fillBacklog(ctx, stack, workload, settings.ingest.backlog))['202'] ?? 0;
      }
      bench.results.drain = await runDrain(ctx, stack, backlog);
      drained = bench.results.drain.completed;
    },
    freshness: async () => {
      let { stack, workload } = await ingestDeployment();
      if (backlog !== undefined && !drained) {
        // A backlog is still queued (drain stopped at its cap, or did not run): start clean.
        log('  backlog not drained: freshness gets a fresh deployment');
        await stack.destroy();
        ingestStack = undefined;
        ({ stack, workload } = await ingestDeployment());
      }
      bench.results.freshness = await runFreshness(ctx, stack, workload);
    },
    naive: async () => {
      const naive = (bench.results.naive = await runNaive(ctx));
      if (bench.results.drain) bench.results.drain.vsNaive = bench.results.drain.ratePerS / naive.ratePerS;
    },
    feed: async () => {
      bench.results.feed = await runFeed(ctx);
    },
    cost: async () => {
      bench.results.cost = await runCost(ctx);
    },
    replay: async () => {
      bench.results.replay = await runReplay(ctx);
    },
  };

  for (const phase of settings.phases) {
    // The ingest deployment is done with once its phases are; free the CPU and disk it holds.
    if (ingestStack && ['naive', 'feed', 'cost', 'replay'].includes(phase)) {
      await ingestStack.destroy();
      ingestStack = undefined;
    }
    log(`phase ${phase}`);
    rss.setPhase(phase);
    const phaseStarted = performance.now();
    try {
      await phases[phase]();
    } catch (error) {
      bench.errors[phase] = error instanceof Error ? (error.stack ?? error.message) : String(error);
      log(`  phase ${phase} failed: ${(error as Error).message}`);
    }
    log(`  ${phase} took ${((performance.now() - phaseStarted) / 1000).toFixed(1)} s`);
  }
  rss.setPhase('teardown');
  await ingestStack?.destroy();
  rss.stop();
  delete bench.rssPeakMb.teardown;
  delete bench.rssPeakMb.setup;

  bench.finishedAt = new Date().toISOString();
  bench.durationS = (performance.now() - started) / 1000;
  bench.machine.loadAverageAtEnd = os.loadavg();
  const md = await writeReport(bench);
  console.log(`\n${md}`);
  log(`results in bench/results/latest.{json,md,svg}`);
}

runMain(main);
