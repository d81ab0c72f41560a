/**
 * The one filtered view of the index that every read goes through: a principal's projects,
 * applied to every lookup and search, so a study of another project is exactly as absent as
 * a study that does not exist (same 404, same queries, same time).
 */
import type { Query } from '../query/query';
import type { Level } from '../query/attributes';
import type { Index, QueryResult, ReadIndex, Scope, StoredInstance } from './index';
import { Principal, readableProjects } from '../auth/principal';

export class AccessView implements ReadIndex {
  /** undefined: every project. */
  readonly projects: readonly string[] | undefined;

  constructor(
    private readonly index: Index,
    principal: Principal,
  ) {
    this.projects = readableProjects(principal);
  }

  instances(scope: Scope): Promise<StoredInstance[]> {
    return this.index.instances(scope, this.projects);
  }

  metadata(scope: Scope): Promise<string[]> {
    return this.index.metadata(scope, this.projects);
  }

  metadataStamp(scope: Scope): Promise<string | undefined> {
    return this.index.metadataStamp(scope, this.projects);
  }

  metadataWithStamp(scope: Scope): Promise<{ stamp: string | undefined; docs: string[] }> {
    return this.index.metadataWithStamp(scope, this.projects);
  }

  search(query: Query): Promise<QueryResult> {
    return this.index.search({ ...query, projects: this.projects });
  }

  exists(level: Level, scope: Scope): Promise<boolean> {
    return this.index.exists(level, scope, this.projects);
  }

  /** Whether a study may be seen (for records that name one, such as jobs). */
  async canSee(study: string): Promise<boolean> {
    if (this.projects === undefined) return true;
    const held = await this.index.studyProjects(study);
    return held.some((p) => this.projects!.includes(p));
  }
}
