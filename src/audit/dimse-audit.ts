/**
 * The DIMSE listener's events (src/dimse/events.ts) as audit messages: C-FIND queries, C-MOVE
 * and C-GET transfers, the instances one association stored (one message per patient when it
 * ends) and refused associations. User identities, accepted or not, are audited by the
 * authenticator itself, as over HTTP.
 */
import type { DimseEvents, DimsePeer } from '../dimse/events';
import type { Index } from '../index/index';
import { QUERY_LEVELS, QueryLevel } from './query-dataset';
import { Caller, GatewayAudit } from './gateway-audit';
import { TransferTally } from './tally';

/** PS3.5 AE: what a calling AE title must be to be named in a message (a refused one may be anything). */
const AE_TITLE = /^[\x20-\x5b\x5d-\x7e]{1,16}$/;

function callerOf(e: DimsePeer & { principalId?: string }): Caller {
  // A malformed calling AE is left out rather than lose the message: the address still names the caller.
  const aeTitle = AE_TITLE.test(e.callingAe) ? e.callingAe : undefined;
  return { user: e.principalId && e.principalId !== 'local' ? e.principalId : undefined, address: e.host, aeTitle };
}

export function dimseAuditEvents(audit: GatewayAudit, index: Pick<Index, 'studyPatients'>): DimseEvents {
  /** What each open association stored, and sent again as duplicates. */
  const received = new Map<number, { stored: TransferTally; duplicates: TransferTally }>();
  return {
    associationRejected(e) {
      // Refusals of who is calling; a full listener or a wrong called AE is not a security event.
      if (e.reason === 'calling-ae-not-allowed' || e.reason === 'identity-required') audit.refusedNode(callerOf(e));
    },
    queried(e) {
      const level = (QUERY_LEVELS as readonly string[]).includes(e.level) ? (e.level as QueryLevel) : 'STUDY';
      audit.queried('C-FIND', callerOf(e), level, e.keys, e.sopClassUid);
    },
    retrieveBegun(e) {
      void index.studyPatients(e.studies.map((s) => s.studyUid)).then((patients) => {
        const tally = new TransferTally();
        for (const s of e.studies) {
          for (const [sopClassUid, count] of Object.entries(s.sopClasses)) {
            for (let i = 0; i < count; i++) tally.add({ patient: patients.get(s.studyUid) ?? '', study: s.studyUid, sopClassUid });
          }
        }
        const destination: Caller = e.service === 'C-GET' ? callerOf(e) : { address: '', aeTitle: e.destinationAe };
        audit.beginTransferring(destination, tally, e.service === 'C-MOVE' ? { others: [callerOf(e)] } : {});
      });
    },
    instanceStored(e) {
      if (e.association === undefined) return;
      let r = received.get(e.association);
      if (!r) received.set(e.association, (r = { stored: new TransferTally(), duplicates: new TransferTally() }));
      (e.outcome === 'stored' ? r.stored : r.duplicates).add({ patient: e.patientId, study: e.studyUid, sopClassUid: e.sopClassUid });
    },
    associationEnded(e) {
      const r = e.association === undefined ? undefined : received.get(e.association);
      if (!r) return;
      received.delete(e.association!);
      audit.transferred('ingest', callerOf(e), r.stored, { action: 'C' });
      audit.transferred('ingest', callerOf(e), r.duplicates, { action: 'R' });
    },
  };
}
