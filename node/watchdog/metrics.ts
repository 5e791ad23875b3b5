import { alertKindNames } from '../../protocol/alert.ts'
import type { PromRegistry } from '../http/metrics.ts'
import type { Watchdog } from './service.ts'

/**
 * The watchdog's Prometheus series (in the node's /metrics):
 * `ark_watchdog_condition_active{kind,subject}` 1 while a condition is raised, 0 once cleared;
 * `ark_watchdog_conditions_active{kind}` how many are raised now; `ark_watchdog_conditions_raised_total{kind}`;
 * `ark_watchdog_events_total{event}` (polls, alerts signed/received, quorums, emergencies, rate limits);
 * `ark_watchdog_webhook_deliveries_total{result}`; `ark_watchdog_breaker_tripped`.
 */
export function registerWatchdogMetrics(reg: PromRegistry, wd: Watchdog): void {
  const cond = reg.gauge({ name: 'ark_watchdog_condition_active', help: 'watchdog condition: 1 while raised, 0 once cleared', labelNames: ['kind', 'subject'] })
  const active = reg.gauge({ name: 'ark_watchdog_conditions_active', help: 'watchdog conditions raised now, by kind', labelNames: ['kind'] })
  const raised = reg.counter({ name: 'ark_watchdog_conditions_raised_total', help: 'watchdog conditions raised, by kind', labelNames: ['kind'] })
  const events = reg.counter({ name: 'ark_watchdog_events_total', help: 'watchdog events by kind', labelNames: ['event'] })
  const hooks = reg.counter({ name: 'ark_watchdog_webhook_deliveries_total', help: 'webhook deliveries by result', labelNames: ['result'] })
  const breaker = reg.gauge({ name: 'ark_watchdog_breaker_tripped', help: '1 once the circuit breaker sent pause() (or found the exchange paused)' })
  reg.addCollector(() => {
    // rebuilt on every scrape: series the watchdog forgot (bounded, gauges.ts) leave /metrics too
    cond.reset()
    for (const c of wd.conditionGauge.values()) cond.set({ kind: c.kind, subject: c.subject }, c.value)
    const n = new Map<string, number>(alertKindNames.map((k) => [k, 0]))
    for (const c of wd.tracker.active.values()) n.set(c.kind, (n.get(c.kind) ?? 0) + 1)
    for (const [k, v] of n) active.set({ kind: k }, v)
    for (const [k, v] of wd.raisedByKind) raised.set({ kind: k }, v)
    for (const [k, v] of Object.entries(wd.counters)) events.set({ event: k }, v)
    for (const [k, v] of Object.entries(wd.webhooks.counts)) hooks.set({ result: k }, v)
    const s = wd.breaker?.state?.status
    breaker.set(s === 'sent' || s === 'already-paused' ? 1 : 0)
  })
}
