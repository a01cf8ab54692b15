/**
 * Cluster membership through the shared store: every node writes a heartbeat with a lease and
 * reads everyone else's. A node whose lease has passed receives no new work. The same loop
 * refreshes settings, so a settings change reaches every node within one heartbeat.
 *
 * A store outage (PostgreSQL restarting) does not take the node down: the failed tick is logged
 * and the next one tries again; the last known membership stays in use meanwhile.
 */
import type { FastifyBaseLogger } from 'fastify';
import type { NodeRole } from '../config.ts';
import type { NodeRecord, Store } from '../store/store.ts';

export interface SelfDescription {
  id: string;
  name: string;
  roles: NodeRole[];
  httpAddress: string | undefined;
  flightAddress: string | undefined;
}

export interface MembershipOptions {
  store: Store;
  self: SelfDescription;
  logger: FastifyBaseLogger;
  heartbeatMs?: number;
  leaseMs?: number;
  /** Runs on every tick after the heartbeat (settings refresh). */
  onTick?: () => Promise<void>;
}

export class Membership {
  readonly self: SelfDescription;
  readonly #store: Store;
  readonly #logger: FastifyBaseLogger;
  readonly #heartbeatMs: number;
  readonly #leaseMs: number;
  readonly #onTick: (() => Promise<void>) | undefined;
  readonly #startedAt = Date.now();
  #nodes: NodeRecord[] = [];
  /**
   * The other live ML nodes, asked for by every routed request: kept until the heartbeat
   * replaces `#nodes` or the first of their leases passes, instead of filtering per request.
   */
  #otherLiveMl: { nodes: NodeRecord[]; validUntil: number } | undefined;
  #timer: NodeJS.Timeout | undefined;
  #activeStreams = 0;
  #failing = false;
  #ticking = false;

  constructor(options: MembershipOptions) {
    this.self = options.self;
    this.#store = options.store;
    this.#logger = options.logger;
    this.#heartbeatMs = options.heartbeatMs ?? 1000;
    this.#leaseMs = options.leaseMs ?? 5000;
    this.#onTick = options.onTick;
  }

  /** The first heartbeat is awaited, so a started node is visible at once. */
  async start(): Promise<void> {
    await this.tick();
    this.#timer = setInterval(() => void this.tick(), this.#heartbeatMs);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    try {
      await this.#store.removeNode(this.self.id);
    } catch (error) {
      this.#logger.warn({ err: error }, 'could not remove this node from the membership table');
    }
  }

  async tick(): Promise<void> {
    // A tick can outlast the interval while the store is unreachable (connect timeout); ticks
    // must not pile up behind it.
    if (this.#ticking) return;
    this.#ticking = true;
    const now = Date.now();
    try {
      await this.#store.heartbeatNode({
        ...this.self,
        startedAt: this.#startedAt,
        lastSeen: now,
        leaseExpiresAt: now + this.#leaseMs,
        activeStreams: this.#activeStreams,
      });
      this.#nodes = await this.#store.listNodes();
      this.#otherLiveMl = undefined;
      await this.#onTick?.();
      if (this.#failing) this.#logger.info('the store is reachable again');
      this.#failing = false;
    } catch (error) {
      if (!this.#failing) this.#logger.warn({ err: error }, 'heartbeat failed; retrying');
      this.#failing = true;
    } finally {
      this.#ticking = false;
    }
  }

  /** Nodes whose lease has not expired (this node always counts while it runs). */
  liveNodes(): NodeRecord[] {
    const now = Date.now();
    const live = this.#nodes.filter(
      (node) => node.leaseExpiresAt > now && node.id !== this.self.id,
    );
    return [this.#selfRecord(now), ...live];
  }

  allNodes(): NodeRecord[] {
    const others = this.#nodes.filter((node) => node.id !== this.self.id);
    return [this.#selfRecord(Date.now()), ...others];
  }

  liveMlNodes(): NodeRecord[] {
    const now = Date.now();
    let cached = this.#otherLiveMl;
    if (cached === undefined || now >= cached.validUntil) {
      const nodes = this.#nodes.filter(
        (node) =>
          node.id !== this.self.id && node.roles.includes('ml') && node.leaseExpiresAt > now,
      );
      const validUntil = Math.min(...nodes.map((node) => node.leaseExpiresAt));
      cached = { nodes, validUntil };
      this.#otherLiveMl = cached;
    }
    // A copy: callers may sort or filter what they get.
    return this.self.roles.includes('ml')
      ? [this.#selfRecord(now), ...cached.nodes]
      : [...cached.nodes];
  }

  isLive(node: NodeRecord): boolean {
    return node.id === this.self.id || node.leaseExpiresAt > Date.now();
  }

  /** Streams this node is running against an upstream right now (reported in its heartbeat). */
  get activeStreams(): number {
    return this.#activeStreams;
  }

  streamStarted(): void {
    this.#activeStreams += 1;
  }

  streamEnded(): void {
    this.#activeStreams = Math.max(0, this.#activeStreams - 1);
  }

  #selfRecord(now: number): NodeRecord {
    return {
      ...this.self,
      startedAt: this.#startedAt,
      lastSeen: now,
      leaseExpiresAt: now + this.#leaseMs,
      activeStreams: this.#activeStreams,
    };
  }
}
