// Command metrics as the gateway sees them: every command handed to the bus,
// by type and outcome, and how long the client waited for that outcome. A
// decorator over the CommandBus, so neither the app nor the Kafka bus changes.
import { DURATION_BUCKETS, type Metrics } from '../../infra/metrics/registry';
import { isRetriable, type CommandBus, type CommandEnvelope, type CommandOutcome } from './command-bus';

/** `accepted`, `rejected` (a business rule), `pending` (no reply within the wait), `unavailable` (Kafka or the registry), `error` (a bug). */
export const GATEWAY_OUTCOMES = ['accepted', 'rejected', 'pending', 'unavailable', 'error'] as const;

export function gatewayMetrics(metrics: Metrics) {
  return {
    commands: metrics.counter({
      name: 'restaurant_gateway_commands_total',
      help: 'Commands the gateway handed to the command bus, by command type and outcome (accepted, rejected, pending, unavailable, error).',
      labelNames: ['command', 'outcome'],
    }),
    duration: metrics.histogram({
      name: 'restaurant_gateway_command_duration_seconds',
      help: 'Time from handing a command to the bus to knowing its outcome (or giving up waiting), by command type.',
      labelNames: ['command'],
      buckets: [...DURATION_BUCKETS, 30],
    }),
  };
}

export function instrumentCommandBus(bus: CommandBus, metrics: Metrics): CommandBus {
  const m = gatewayMetrics(metrics);
  return {
    async send(envelope: CommandEnvelope, options: { readonly waitMs: number }): Promise<CommandOutcome> {
      const command = envelope.command.type;
      const end = m.duration.startTimer({ command });
      try {
        const outcome = await bus.send(envelope, options);
        m.commands.inc({ command, outcome: outcome.status });
        return outcome;
      } catch (error) {
        m.commands.inc({ command, outcome: isRetriable(error) ? 'unavailable' : 'error' });
        throw error;
      } finally {
        end();
      }
    },
    outcome: (commandId) => bus.outcome(commandId),
  };
}
