/**
 * Who is asking, and what they may do: every HTTP request and every DIMSE association carries
 * one principal, with roles (what kind of operation) and projects (which studies).
 */
export const ROLES = ['ingest', 'read', 'process', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/** Every project (an administrator's key, or the local user with auth off). */
export const ALL_PROJECTS = '*';

export interface Principal {
  /** A name safe to log and audit: the key's name, the token's subject, the AE title. Never a secret. */
  id: string;
  via: 'local' | 'key' | 'oidc' | 'ae';
  roles: ReadonlySet<Role>;
  /** Projects whose studies it may see or add to; ALL_PROJECTS for every one. */
  projects: ReadonlySet<string>;
}

/** With auth off (loopback only), the one local user may do everything. */
export const LOCAL_PRINCIPAL: Principal = { id: 'local', via: 'local', roles: new Set(ROLES), projects: new Set([ALL_PROJECTS]) };

/** Studies stored while auth was off, or by a source with no project of its own, belong here. */
export const DEFAULT_PROJECT = 'default';

const PROJECT = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export function validProject(name: string): boolean {
  return name === ALL_PROJECTS || PROJECT.test(name);
}

export function parseRoles(list: unknown, where: string): Role[] {
  const values = typeof list === 'string' ? list.split(',').map((s) => s.trim()).filter(Boolean) : list;
  if (!Array.isArray(values) || values.length === 0) throw new Error(`${where}: roles must be a non-empty list of ${ROLES.join(', ')}`);
  for (const r of values) if (!ROLES.includes(r as Role)) throw new Error(`${where}: "${String(r)}" is not a role (${ROLES.join(', ')})`);
  return [...new Set(values as Role[])];
}

export function parseProjects(list: unknown, where: string): string[] {
  const values = typeof list === 'string' ? list.split(',').map((s) => s.trim()).filter(Boolean) : list;
  if (!Array.isArray(values) || values.length === 0) throw new Error(`${where}: projects must be a non-empty list (or "*")`);
  for (const p of values) if (typeof p !== 'string' || !validProject(p)) throw new Error(`${where}: "${String(p)}" is not a project name (letters, digits, . _ -)`);
  return [...new Set(values as string[])];
}

/**
 * The project whose pseudonym space a source's instances are de-identified in: the first of its
 * projects, or the default project for a source that holds every one. Each project other than
 * the default has its own keys (deid/keyed.ts projectSecret), so a sender of one project cannot
 * learn the pseudonyms, UIDs or date offsets another project's studies got from the same MRN.
 */
export function pseudonymProject(p: Principal): string {
  if (p.projects.has(ALL_PROJECTS)) return DEFAULT_PROJECT;
  const [first] = p.projects;
  return first ?? DEFAULT_PROJECT;
}

/** The projects a principal may read, for the index's filter: undefined means every one. */
export function readableProjects(p: Principal): string[] | undefined {
  return p.projects.has(ALL_PROJECTS) ? undefined : [...p.projects];
}
