import { setTimeout as sleep } from 'node:timers/promises';
import { countsSample, DrainMeter } from '../../shared/kubernetes/drain';
import {
  FleetError,
  type FleetSource,
  type FleetView,
  type KubeFleet,
  type QueueStats,
} from '../../shared/kubernetes/fleet';
import { resolveKubeSource } from '../../shared/kubernetes/kube-source';
import { intOption, secondsOption } from '../args';
import { command, type Context } from '../command';
import { CliError, EXIT, type ExitCode } from '../exit-codes';
import { renderFleet } from '../fleet-view';

/** The chart's worker Deployment (and ScaledObject) for a release named "spillway". */
const DEFAULT_DEPLOYMENT = 'spillway-worker';

export const fleet = command({
  name: 'fleet',
  summary: 'workers, KEDA ScaledObject and HPA beside the lag and drain rate (needs a kubeconfig)',
  usage: `spillway fleet [options]

Reads the worker Deployment, its KEDA ScaledObject and the HPA KEDA owns from Kubernetes
(KUBECONFIG, else ~/.kube/config, else the pod's service account) and the queue from the
API (GET /v1/stats), and shows them side by side. The drain rate compares two samples of
the finished counts.

  -n, --namespace <ns>       namespace (default: the kubeconfig context's, else "default")
      --deployment <name>    worker Deployment (default ${DEFAULT_DEPLOYMENT})
      --scaled-object <name> its ScaledObject (default: the Deployment's name)
      --no-scaled-object     KEDA is off: show the Deployment alone
      --context <name>       kubeconfig context (default: the current one)
      --sample <seconds>     gap between the two samples of the drain rate (default 2; 0: none)
  -w, --watch                redraw every --interval seconds until Ctrl-C
      --interval <seconds>   default 5
      --count <n>            with --watch: stop after n redraws

--json prints the view as one JSON document (with --watch, one line per redraw).

Exit: 0, 2 no kubeconfig, 3 Kubernetes API or API unreachable, 4 an object is missing, access
is denied, or another error.`,
  options: {
    namespace: { type: 'string', short: 'n' },
    deployment: { type: 'string' },
    'scaled-object': { type: 'string' },
    'no-scaled-object': { type: 'boolean' },
    context: { type: 'string' },
    sample: { type: 'string' },
    watch: { type: 'boolean', short: 'w' },
    interval: { type: 'string' },
    count: { type: 'string' },
  },
  async run(ctx, { values }) {
    const sampleMs = (secondsOption(values.sample, 'sample', 0, 600) ?? 2) * 1000;
    const intervalMs = (secondsOption(values.interval, 'interval', 0.1, 3600) ?? 5) * 1000;
    const count = intOption(values.count, 'count', 1);
    const workerDeployment = values.deployment ?? DEFAULT_DEPLOYMENT;
    const reader = await openReader(ctx, {
      ...(values.namespace !== undefined && { namespace: values.namespace }),
      workerDeployment,
      ...(!values['no-scaled-object'] && { scaledObject: values['scaled-object'] ?? workerDeployment }),
      ...(values.context !== undefined && { context: values.context }),
    });
    // The CLI decides when it samples, so any gap gives a rate.
    const meter = new DrainMeter(60_000, 1);
    const view = (kube: KubeFleet, queue: QueueStats): FleetView => {
      const at = Date.now();
      const drain = meter.add(countsSample(queue, at), queue.lag.total);
      return { at: new Date(at).toISOString(), ...kube, queue, drain };
    };
    const sample = async () => {
      const [kube, queue] = await Promise.all([explained(reader.read()), stats(ctx)]);
      return view(kube, queue);
    };

    if (!values.watch) {
      // Kubernetes first, with the first counts: a cluster problem shows at once, not after the gap.
      const [kube, first] = await Promise.all([explained(reader.read()), stats(ctx)]);
      let queue = first;
      if (sampleMs > 0) {
        meter.add(countsSample(queue, Date.now()), queue.lag.total);
        await sleep(sampleMs);
        queue = await stats(ctx);
      }
      const shown = view(kube, queue);
      if (ctx.out.json) ctx.out.document(shown);
      else for (const line of renderFleet(shown)) ctx.out.line(line);
      return EXIT.ok;
    }
    return watch(ctx, sample, intervalMs, count);
  },
});

/** Redraws until Ctrl-C or `count` frames; a failed sample is shown in its frame, and the next one tries again. */
async function watch(
  ctx: Context,
  sample: () => Promise<FleetView>,
  intervalMs: number,
  count: number | undefined,
): Promise<ExitCode> {
  const clear = !ctx.out.json && ctx.io.stdout.isTTY;
  let code: ExitCode = EXIT.ok;
  for (let frame = 1; ; frame++) {
    let lines: string[];
    try {
      const view = await sample();
      code = EXIT.ok;
      lines = ctx.out.json ? [JSON.stringify(view)] : renderFleet(view);
    } catch (err) {
      if (!(err instanceof CliError)) throw err;
      code = err.exitCode;
      lines = ctx.out.json
        ? [JSON.stringify({ at: new Date().toISOString(), error: err.message })]
        : [`spillway fleet   ${new Date().toISOString()}`, '', `error: ${err.message}`];
    }
    if (clear) ctx.io.stdout.write('\x1b[H\x1b[2J');
    else if (frame > 1 && !ctx.out.json) ctx.out.line('');
    for (const line of lines) ctx.out.line(line);
    if (!ctx.out.json) ctx.out.note(`(every ${intervalMs / 1000} s; Ctrl-C stops)`);
    if (count !== undefined && frame >= count) return code;
    await sleep(intervalMs);
  }
}

async function openReader(
  ctx: Context,
  targets: { namespace?: string; workerDeployment: string; scaledObject?: string; context?: string },
): Promise<FleetSource> {
  const { context, ...rest } = targets;
  try {
    const source = resolveKubeSource(ctx.config.kube, context);
    // Loaded here only: the Kubernetes client takes a while to load and no other command needs it.
    const { KubeFleetReader } = await import('../../shared/kubernetes/fleet-reader');
    return KubeFleetReader.create(source, rest);
  } catch (err) {
    throw asCliError(err);
  }
}

function stats(ctx: Context): Promise<QueueStats> {
  return ctx.client.call<QueueStats>('GET', '/v1/stats');
}

async function explained<T>(reading: Promise<T>): Promise<T> {
  try {
    return await reading;
  } catch (err) {
    throw asCliError(err);
  }
}

const EXIT_FOR = {
  'no-config': EXIT.usage,
  unreachable: EXIT.unreachable,
  forbidden: EXIT.apiError,
  'not-found': EXIT.apiError,
  error: EXIT.apiError,
} as const;

function asCliError(err: unknown): unknown {
  return err instanceof FleetError ? new CliError(EXIT_FOR[err.reason], err.message) : err;
}
