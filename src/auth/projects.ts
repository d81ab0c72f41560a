/**
 * Which projects a new study belongs to: those of the source that sent its first instance (an
 * API key's, a calling AE's, a token's; the default project for a source that holds every one),
 * plus those of every project rule its header matches. A study is keyed in the pseudonym space
 * of its source's first project (principal.ts pseudonymProject), which it always belongs to.
 */
import type { Dataset } from '../dicom/dataset';
import { matchesFields } from '../dicom/field-match';
import type { ProjectRule } from './config';
import { ALL_PROJECTS, DEFAULT_PROJECT, Principal, pseudonymProject } from './principal';

export function ingestProjects(source: Principal, original: Dataset, rules: readonly ProjectRule[]): string[] {
  const out = new Set([...source.projects].filter((p) => p !== ALL_PROJECTS));
  out.add(pseudonymProject(source));
  for (const rule of rules) if (matchesFields(original, rule.match)) for (const p of rule.projects) out.add(p);
  return [...out].sort();
}

/**
 * Who may add instances to an existing study: ALL_PROJECTS (a source holding every project, a
 * derived object made from the study), or a source whose pseudonym project holds the study.
 */
export type StudyJoiner = typeof ALL_PROJECTS | string;

export function joinerOf(source: Principal): StudyJoiner {
  return source.projects.has(ALL_PROJECTS) ? ALL_PROJECTS : pseudonymProject(source);
}

export function studyOpenTo(held: readonly string[], joiner: StudyJoiner): boolean {
  return joiner === ALL_PROJECTS || held.includes(joiner);
}

export { DEFAULT_PROJECT };
