import { command, type Context } from '../command';
import { EXIT, usageError } from '../exit-codes';

/** The body of GET /v1/queue, and of a pause or resume (with `autoscaling`). */
interface QueueState {
  paused: boolean;
  pausedAt: string | null;
  pausedTypes: { type: string; pausedAt: string }[];
  autoscaling?: 'paused' | 'resumed' | 'unmanaged' | 'failed';
  autoscalingError?: string;
}

function show(ctx: Context, state: QueueState): void {
  if (ctx.out.json) return ctx.out.document(state);
  ctx.out.line(state.paused ? `queue  paused since ${state.pausedAt}` : 'queue  running');
  for (const { type, pausedAt } of state.pausedTypes) ctx.out.line(`type ${type}  paused since ${pausedAt}`);
  if (state.autoscaling === 'failed') ctx.out.note(`autoscaler not patched: ${state.autoscalingError}`);
  else if (state.autoscaling) ctx.out.note(`autoscaler: ${state.autoscaling}`);
}

const change = (verb: 'pause' | 'resume') =>
  command({
    name: `queue ${verb}`,
    summary:
      verb === 'pause'
        ? 'stop workers starting tasks (of one type with --type); running ones finish'
        : 'let workers start tasks again (of one type with --type)',
    usage: `spillway queue ${verb} [--type <type>]

${
  verb === 'pause'
    ? `Workers start no task of the scope within a second and finish those running; they stay in
their consumer groups. On Kubernetes the workers' ScaledObject is paused too, so the growing
lag does not scale them up.`
    : `Held and waiting tasks of the scope start again. The queue and each type are paused and
resumed on their own: resuming the queue leaves a paused type paused.`
}

  -t, --type <type>   one task type instead of the whole queue

Needs an admin key. Prints the pause state after the change.
Exit: 0, 3 API unreachable, 4 API error (403 without admin, 422 a bad type).`,
    options: { type: { type: 'string', short: 't' } },
    async run(ctx, { positionals, values }) {
      if (positionals.length > 0) throw usageError(`unexpected arguments: ${positionals.join(' ')}`);
      const state = await ctx.client.call<QueueState>('POST', `/v1/queue/${verb}`, {
        ...(values.type !== undefined && { json: { type: values.type } }),
      });
      show(ctx, state);
      return EXIT.ok;
    },
  });

export const queuePause = change('pause');
export const queueResume = change('resume');

export const queueStatus = command({
  name: 'queue status',
  summary: 'what is paused: the whole queue and task types',
  usage: `spillway queue status

Prints whether the queue is paused, and each task type paused on its own. Needs an admin key.
Exit: 0, 3 API unreachable, 4 API error.`,
  options: {},
  async run(ctx, { positionals }) {
    if (positionals.length > 0) throw usageError(`unexpected arguments: ${positionals.join(' ')}`);
    show(ctx, await ctx.client.call<QueueState>('GET', '/v1/queue'));
    return EXIT.ok;
  },
});
