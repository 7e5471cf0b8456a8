import type { Logger } from 'pino';
import { afterFailure, type BreakerPolicy, DEFAULT_BREAKER, recentFailures } from '../core/backoff';
import type { Controller } from './controller';

/**
 * Runs each controller in its own loop: tick, then sleep until woken (a ledger change, another controller's
 * change) or its interval passes. A tick that throws is logged and retried with backoff; a controller that
 * keeps failing trips the breaker (reported through onTrip, retried after a cooldown). This is the
 * Deacon's "keep the daemon's own controllers alive" duty; the Deacon controller does the rest.
 */
export type ControllerState = 'running' | 'sleeping' | 'backoff' | 'broken' | 'stopped';

export interface ControllerStatus {
  name: string;
  state: ControllerState;
  ticks: number;
  failures: number;
  last_tick_at: string | null;
  last_change_at: string | null;
  last_error: string | null;
  next_retry_at: string | null;
}

interface Slot {
  controller: Controller;
  status: ControllerStatus;
  failureTimes: number[];
  wake: (() => void) | null;
  woken: boolean;
  stopped: boolean;
  done: Promise<void>;
}

export interface SupervisorOptions {
  log: Logger;
  policy?: BreakerPolicy;
  onTrip?: (name: string, error: string, recent: number) => void;
  onStateChange?: () => void;
}

export class Supervisor {
  private readonly slots = new Map<string, Slot>();
  private readonly options: SupervisorOptions;
  private stopping = false;

  constructor(options: SupervisorOptions) {
    this.options = options;
  }

  has(name: string): boolean {
    return this.slots.has(name);
  }

  names(): string[] {
    return [...this.slots.keys()];
  }

  add(controller: Controller): void {
    if (this.stopping || this.slots.has(controller.name)) return;
    const slot: Slot = {
      controller,
      status: {
        name: controller.name,
        state: 'running',
        ticks: 0,
        failures: 0,
        last_tick_at: null,
        last_change_at: null,
        last_error: null,
        next_retry_at: null,
      },
      failureTimes: [],
      wake: null,
      woken: false,
      stopped: false,
      done: Promise.resolve(),
    };
    this.slots.set(controller.name, slot);
    slot.done = this.loop(slot);
    this.options.log.info({ controller: controller.name }, 'controller started');
  }

  async remove(name: string): Promise<void> {
    const slot = this.slots.get(name);
    if (!slot) return;
    slot.stopped = true;
    slot.wake?.();
    await slot.done;
    this.slots.delete(name);
    await slot.controller.close?.();
    this.options.log.info({ controller: name }, 'controller removed');
  }

  /** Wakes every controller (or all but one): something changed that they may act on. */
  wakeAll(except?: string): void {
    for (const slot of this.slots.values()) {
      if (slot.controller.name === except) continue;
      slot.woken = true;
      slot.wake?.();
    }
  }

  wake(name: string): void {
    const slot = this.slots.get(name);
    if (!slot) return;
    slot.woken = true;
    slot.wake?.();
  }

  statuses(): ControllerStatus[] {
    return [...this.slots.values()].map((s) => ({ ...s.status }));
  }

  async stop(graceMs: number): Promise<void> {
    this.stopping = true;
    for (const slot of this.slots.values()) {
      slot.stopped = true;
      slot.wake?.();
    }
    const all = Promise.all([...this.slots.values()].map((s) => s.done));
    await Promise.race([all, new Promise((r) => setTimeout(r, graceMs).unref())]);
    for (const slot of this.slots.values()) {
      try {
        await slot.controller.close?.();
      } catch {}
      slot.status.state = 'stopped';
    }
  }

  private setState(slot: Slot, state: ControllerState): void {
    if (slot.status.state === state) return;
    slot.status.state = state;
    this.options.onStateChange?.();
  }

  private sleep(slot: Slot, ms: number): Promise<void> {
    if (slot.woken || slot.stopped) {
      slot.woken = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        slot.wake = null;
        resolve();
      }
      slot.wake = () => {
        slot.woken = false;
        done();
      };
    });
  }

  private async loop(slot: Slot): Promise<void> {
    const { controller } = slot;
    const log = this.options.log;
    while (!slot.stopped) {
      slot.woken = false;
      let changed = false;
      try {
        changed = await controller.tick();
        slot.status.ticks++;
        slot.status.last_tick_at = new Date().toISOString();
        if (changed) slot.status.last_change_at = slot.status.last_tick_at;
        if (slot.status.state === 'backoff' || slot.status.state === 'broken') {
          if (slot.status.state === 'broken')
            log.warn({ controller: controller.name }, 'controller recovered');
          slot.status.next_retry_at = null;
          // A success resets the breaker: old failures no longer count towards the next trip.
          slot.failureTimes = [];
        }
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        const now = Date.now();
        slot.failureTimes = recentFailures(
          [...slot.failureTimes, now],
          now,
          this.options.policy ?? DEFAULT_BREAKER,
        );
        slot.status.failures++;
        slot.status.last_error = message.slice(0, 500);
        const decision = afterFailure(slot.failureTimes, now, this.options.policy ?? DEFAULT_BREAKER);
        slot.status.next_retry_at = new Date(now + decision.delayMs).toISOString();
        log.error(
          {
            controller: controller.name,
            err: error,
            retry_in_ms: decision.delayMs,
            recent_failures: decision.recent,
          },
          'controller tick failed',
        );
        if (decision.state === 'broken' && slot.status.state !== 'broken') {
          this.setState(slot, 'broken');
          this.options.onTrip?.(controller.name, message, decision.recent);
        } else if (decision.state === 'backoff') {
          this.setState(slot, 'backoff');
        }
        // Backoff ignores wake-ups: a failing controller must not spin on every ledger change.
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, decision.delayMs);
          slot.wake = () => {
            if (slot.stopped) {
              clearTimeout(timer);
              resolve();
            }
          };
        });
        slot.wake = null;
        continue;
      }
      if (changed) this.wakeAll(controller.name);
      if (slot.stopped) break;
      this.setState(slot, 'sleeping');
      await this.sleep(slot, controller.intervalMs);
      if (!slot.stopped) this.setState(slot, 'running');
    }
  }
}
