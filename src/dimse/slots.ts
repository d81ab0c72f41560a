/**
 * Association slots of one listener. A connection takes a slot when it opens, before it has
 * said who it is, so connections that never associate count against maxAssociations like
 * associations do (each for at most preAssociationTimeoutSeconds). When every slot is taken a
 * few more connections are let in, only so their A-ASSOCIATE-RQ can be answered "transient,
 * local limit exceeded" (a proper answer rather than a reset); past those, connections are
 * closed at once. An accepted association also counts against its calling AE title's share.
 */
export interface SlotLimits {
  maxAssociations: number;
  maxAssociationsPerAe: number;
}

export type AssociateResult = 'ok' | 'busy' | 'ae-busy';

export interface Ticket {
  /** At A-ASSOCIATE-RQ: take a slot if this connection has none yet, and a share of the AE's. */
  associate(callingAe: string): AssociateResult;
  /** When the connection closes (idempotent). */
  release(): void;
}

export class AssociationSlots {
  private used = 0;
  private overflow = 0;
  private readonly perAe = new Map<string, number>();

  constructor(private readonly limits: SlotLimits) {}

  /** Connections allowed in beyond the slots, to be told the limit. */
  private get maxOverflow(): number {
    return this.limits.maxAssociations;
  }

  /** Associations and not-yet-associated connections holding a slot now. */
  get active(): number {
    return this.used;
  }

  /** A new connection: its ticket, or undefined when it must be closed at once. */
  connect(): Ticket | undefined {
    let slot = false;
    let extra = false;
    if (this.used < this.limits.maxAssociations) {
      this.used++;
      slot = true;
    } else if (this.overflow < this.maxOverflow) {
      this.overflow++;
      extra = true;
    } else {
      return undefined;
    }
    let ae: string | undefined;
    let released = false;
    return {
      associate: (callingAe) => {
        if (released) return 'busy';
        if (!slot) {
          if (this.used >= this.limits.maxAssociations) return 'busy';
          this.used++;
          slot = true;
          this.overflow--;
          extra = false;
        }
        if (ae !== undefined) return 'ok';
        const n = this.perAe.get(callingAe) ?? 0;
        if (n >= this.limits.maxAssociationsPerAe) return 'ae-busy';
        this.perAe.set(callingAe, n + 1);
        ae = callingAe;
        return 'ok';
      },
      release: () => {
        if (released) return;
        released = true;
        if (slot) this.used--;
        if (extra) this.overflow--;
        if (ae !== undefined) {
          const n = (this.perAe.get(ae) ?? 1) - 1;
          if (n > 0) this.perAe.set(ae, n);
          else this.perAe.delete(ae);
        }
      },
    };
  }
}
