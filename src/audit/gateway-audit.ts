/**
 * What the gateway tells its audit trail, in the gateway's own terms (a caller, a tally of
 * instances, a route), turned into PS3.15 A.5 messages here and nowhere else. Every identifier
 * that reaches a message is a pseudonym or a route template: the builders refuse anything else,
 * and a refusal is counted and logged by the trail, never thrown into a request.
 */
import os from 'node:os';
import type { Request } from 'express';
import type { Principal } from '../auth/principal';
import type { QueryLevel } from './query-dataset';
import type { Participant } from './identifiers';
import { dimsePeer, httpClient, networkAccessPoint } from './identifiers';
import {
  AuditContext,
  applicationActivity,
  auditContext,
  beginTransferring,
  dataExport,
  dicomInstancesTransferred,
  instancesRemoved,
  query,
  securityAlert,
  userAuthentication,
} from './messages';
import { TransferTally } from './tally';
import { AuditTrail, createAuditTrail } from './trail';
import type { AuditConfig } from './config';
import type { Index, StoredInstance } from '../index/index';

/** Who did something: a user (a key's name, a token's subject; none for the local user), from an address, over HTTP or as a calling AE. */
export interface Caller {
  user?: string;
  address: string;
  aeTitle?: string;
}

/** The name a principal goes by in the trail: none for the local user (then its address). */
export function userOf(principal: Principal | undefined): string | undefined {
  return principal && principal.via !== 'local' ? principal.id : undefined;
}

/** The Study Root C-FIND SOP Class, which QIDO-RS mirrors (PS3.18 10.6). */
const STUDY_ROOT_FIND = '1.2.840.10008.5.1.4.1.2.2.1';

function participant(c: Caller, isRequestor: boolean): Participant {
  const user = c.user;
  const address = c.address.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/, '');
  if (c.aeTitle) return { ...dimsePeer({ aeTitle: c.aeTitle, address: address || undefined, isRequestor }), ...(user && user !== c.aeTitle ? { userName: user } : {}) };
  return httpClient({ user, address: address || '0.0.0.0', isRequestor });
}

/** A request as a caller: its principal and client address. */
export function httpCaller(req: Request, address = req.socket.remoteAddress ?? ''): Caller {
  return { user: userOf(req.principal), address };
}

/** The route a request matched, as a template ("/dicom-web/studies/{study}"): never the path the client typed. */
export function routeTemplate(req: Request): string {
  const route = (req.route as { path?: unknown } | undefined)?.path;
  const path = typeof route === 'string' ? route.replace(/:(\w+)/g, '{$1}') : '';
  return `${req.baseUrl}${path === '/' ? '' : path}` || '/';
}

export class GatewayAudit {
  constructor(
    readonly trail: AuditTrail,
    private readonly ctx: AuditContext,
  ) {}

  started(): void {
    this.trail.record(() => applicationActivity(this.ctx, { action: 'start' }));
  }

  stopped(): void {
    this.trail.record(() => applicationActivity(this.ctx, { action: 'stop' }));
  }

  authenticated(outcome: 'success' | 'failure', principalId: string | undefined, address: string): void {
    this.trail.record(() => userAuthentication(this.ctx, { result: outcome, user: { userId: principalId ?? 'unknown', from: address || '0.0.0.0' } }));
  }

  /** A request refused for its role, or a route refused to a caller without a credential. */
  refused(caller: Caller, route: string): void {
    this.trail.record(() => securityAlert(this.ctx, { reason: 'access-refused', subject: { uri: route }, performers: [participant(caller, false)] }));
  }

  /** An association refused for who was calling (an AE not listed, an identity that was required). */
  refusedNode(caller: Caller): void {
    this.trail.record(() => securityAlert(this.ctx, { reason: 'access-refused', subject: { node: caller.address || '0.0.0.0' }, performers: [participant(caller, false)] }));
  }

  /** An instance refused because its study belongs to projects its sender does not hold. */
  projectViolation(caller: Caller, study: string): void {
    this.trail.record(() => securityAlert(this.ctx, { reason: 'project-violation', subject: { study }, performers: [participant(caller, false)] }));
  }

  /** Other content sent under a stored SOP Instance UID (refused; the stored copy kept). */
  substitution(caller: Caller, study: string, sopClassUid: string, sopInstanceUid: string): void {
    this.trail.record(() =>
      securityAlert(this.ctx, { reason: 'substitution-attempt', subject: { study, instance: { sopClassUid, sopInstanceUid } }, performers: [participant(caller, false)] }),
    );
  }

  /** Instances received (ingest) or sent (retrieve, export): one message per patient. */
  transferred(direction: 'ingest' | 'retrieve' | 'export', peer: Caller, tally: TransferTally, options: { action?: 'C' | 'R'; outcome?: 'success' | 'minor-failure'; others?: Caller[] } = {}): void {
    for (const group of tally.groups()) {
      this.trail.record(() =>
        dicomInstancesTransferred(this.ctx, {
          direction,
          peer: participant(peer, direction === 'ingest'),
          others: options.others?.map((o) => participant(o, true)),
          patient: group.patient,
          studies: group.studies,
          action: options.action,
          outcome: options.outcome,
        }),
      );
    }
  }

  beginTransferring(peer: Caller, tally: TransferTally, options: { others?: Caller[]; direction?: 'retrieve' | 'export' } = {}): void {
    for (const group of tally.groups()) {
      this.trail.record(() =>
        beginTransferring(this.ctx, {
          peer: participant(peer, !options.others?.length),
          others: options.others?.map((o) => participant(o, true)),
          patient: group.patient,
          studies: group.studies,
          direction: options.direction,
        }),
      );
    }
  }

  /** Instances taken away: deleted on request, or rejected (IOCM). Named by pseudonymous UIDs and SOP classes only. */
  removed(kind: 'deleted' | 'rejected', caller: Caller | undefined, patient: string, instances: readonly Pick<StoredInstance, 'studyUID' | 'sopClassUID'>[], options: { wholeStudy: boolean; reason?: string }): void {
    const byStudy = new Map<string, Map<string, number>>();
    for (const i of instances) {
      let classes = byStudy.get(i.studyUID);
      if (!classes) byStudy.set(i.studyUID, (classes = new Map()));
      classes.set(i.sopClassUID, (classes.get(i.sopClassUID) ?? 0) + 1);
    }
    const studies = [...byStudy].map(([study, classes]) => ({ study, sopClasses: [...classes].map(([sopClassUid, count]) => ({ sopClassUid, count })) }));
    this.trail.record(() =>
      instancesRemoved(this.ctx, { kind, wholeStudy: options.wholeStudy, requestor: caller && { ...participant(caller, true), isRequestor: true }, patient, studies, reason: options.reason }),
    );
  }

  /** A query, by its attribute keywords only. */
  queried(protocol: 'QIDO-RS' | 'C-FIND', caller: Caller, level: QueryLevel, keys: string[], sopClassUid = STUDY_ROOT_FIND): void {
    this.trail.record(() => query(this.ctx, { protocol, requestor: participant(caller, true), sopClassUid, level, keys: [...new Set(keys)] }));
  }

  /** Data that left as a download (a zip) or a file (the linkage export). */
  exported(kind: 'zip-download' | 'linkage-export', who: Caller, uri: string, tally: TransferTally): void {
    const groups = tally.groups();
    this.trail.record(() =>
      dataExport(this.ctx, {
        kind,
        ...(kind === 'zip-download' ? { recipient: participant(who, true) } : { exporter: participant(who, true) }),
        media: { uri },
        patients: groups.map((g) => g.patient),
        studies: groups.flatMap((g) => g.studies),
      }),
    );
  }

  /** The linkage file exported by a local user (the CLI): the export names the patients by pseudonym. */
  linkageExported(user: string, host: string, uri: string, patients: string[]): void {
    if (patients.length === 0) return;
    this.trail.record(() =>
      dataExport(this.ctx, {
        kind: 'linkage-export',
        exporter: { userId: user || 'unknown', isRequestor: true, networkAccessPoint: networkAccessPoint(host) },
        media: { uri },
        patients,
      }),
    );
  }

  close(): Promise<void> {
    return this.trail.close();
  }
}

/** Stored instances counted by patient, study and SOP class, for a retrieve's messages. */
export async function tallyOf(index: Pick<Index, 'studyPatients'>, instances: readonly StoredInstance[]): Promise<TransferTally> {
  const patients = await index.studyPatients(instances.map((i) => i.studyUID));
  const tally = new TransferTally();
  for (const i of instances) tally.add({ patient: patients.get(i.studyUID) ?? '', study: i.studyUID, sopClassUid: i.sopClassUID });
  return tally;
}

/** The trail the configuration asks for, with this gateway as its audit source. */
export function openGatewayAudit(config: AuditConfig, dataDir: string, aeTitle: string): GatewayAudit {
  return new GatewayAudit(createAuditTrail(config, dataDir), auditContext({ aeTitle, sourceId: config.sourceId, enterpriseSiteId: config.enterpriseSiteId, hostname: os.hostname() }));
}
