/**
 * Peers for the DIMSE access-control tests: dcmtk's tools run as processes, and a dcmjs-dimse
 * SCU for what dcmtk 3.6.7's findscu cannot do (user identity negotiation on a C-FIND, and
 * reading the A-ASSOCIATE-RJ or -AC fields directly).
 */
import { execFile } from 'node:child_process';
import { Client, constants, requests } from 'dcmjs-dimse';

export interface Run {
  code: number;
  output: string;
}

export function run(cmd: string, args: string[], timeoutMs = 60_000): Promise<Run> {
  return new Promise((resolve) => {
    execFile(cmd, args, { maxBuffer: 64 * 1024 * 1024, timeout: timeoutMs }, (err, stdout, stderr) => {
      const code = err ? ((err as { code?: number }).code ?? 1) : 0;
      resolve({ code: typeof code === 'number' ? code : 1, output: stdout + stderr });
    });
  });
}

/** How dcmtk reports an association it could not open. */
export const REJECTED = /Association Rejected/;

export interface Identity {
  type: number;
  primaryField: string;
  secondaryField?: string;
  positiveResponseRequested?: boolean;
}

export interface AssociationOutcome {
  association: 'accepted' | 'rejected' | 'error' | 'timeout';
  reject?: { result: number; source: number; reason: number };
  /** Whether the A-ASSOCIATE-AC carried a User Identity server response sub-item. */
  identityResponse?: boolean;
  /** Abstract syntax → presentation context result, as the A-ASSOCIATE-AC answered. */
  contexts: Record<string, number>;
  /** Each C-FIND pending response's identifier, then the final status. */
  matches: Record<string, unknown>[];
  status?: number;
  comment?: string;
}

type FindOrEcho = InstanceType<typeof requests.CFindRequest> | InstanceType<typeof requests.CEchoRequest>;

/** One association with a dcmjs-dimse SCU, carrying one request (a C-ECHO or a C-FIND). */
export function associate(
  port: number,
  callingAe: string,
  request: FindOrEcho,
  opts: { identity?: Identity; calledAe?: string; timeoutMs?: number } = {},
): Promise<AssociationOutcome> {
  return new Promise((resolve) => {
    const client = new Client();
    const out: AssociationOutcome = { association: 'error', contexts: {}, matches: [] };
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve(out);
    };
    const timer = setTimeout(() => {
      out.association = 'timeout';
      finish();
    }, opts.timeoutMs ?? 20_000);
    request.on('response', (r: { getStatus(): number; getErrorComment?(): string; getDataset(): { getElements(): Record<string, unknown> } | undefined }) => {
      const status = r.getStatus();
      if (status === constants.Status.Pending) out.matches.push(r.getDataset()?.getElements() ?? {});
      else {
        out.status = status;
        out.comment = r.getErrorComment?.();
      }
    });
    client.addRequest(request);
    client.on('associationAccepted', (association: {
      getNegotiateUserIdentityServerResponse(): boolean;
      getPresentationContexts(): { id: number }[];
      getPresentationContext(id: number): { getAbstractSyntaxUid(): string; getResult(): number };
    }) => {
      out.association = 'accepted';
      out.identityResponse = association.getNegotiateUserIdentityServerResponse();
      for (const { id } of association.getPresentationContexts()) {
        const c = association.getPresentationContext(id);
        out.contexts[c.getAbstractSyntaxUid()] = c.getResult();
      }
    });
    client.on('associationRejected', (reject: { result: number; source: number; reason: number }) => {
      out.association = 'rejected';
      out.reject = reject;
    });
    client.on('closed', finish);
    client.on('networkError', finish);
    client.send('127.0.0.1', port, callingAe, opts.calledAe ?? 'VEILGATE', {
      associationLingerTimeout: 0,
      userIdentity: opts.identity
        ? { type: opts.identity.type, primaryField: opts.identity.primaryField, secondaryField: opts.identity.secondaryField ?? '', positiveResponseRequested: !!opts.identity.positiveResponseRequested }
        : undefined,
    });
  });
}

export function studyFind(keys: Record<string, unknown>): InstanceType<typeof requests.CFindRequest> {
  return requests.CFindRequest.createStudyFindRequest(keys);
}

export function echo(): InstanceType<typeof requests.CEchoRequest> {
  return new requests.CEchoRequest();
}
