/**
 * People: patients with everything a hospital system knows of them (names with middle names
 * and prefixes, MRN and issuer, other IDs, birth date, address, phone, e-mail) and the staff
 * who appear in their studies. Every identifying value comes with its PHI tokens.
 */
import { Charset } from './charsets';
import { JAPANESE_POOLS, NAME_POOLS, nameTokens } from './names';
import { Rng } from './random';
import { SITES, SiteTemplate } from './sites';

export interface Person {
  /** The PN value (with ideographic and phonetic groups for Japanese). */
  pn: string;
  /** Every PHI token of the PN value. */
  tokens: string[];
  /** As free text writes it ("Hans Müller", "山田太郎"), and the tokens found in that form. */
  display: string;
  displayTokens: string[];
  /** Upper-case ASCII, as a burned-in banner shows it ("MULLER HANS"), and its two parts. */
  banner: string;
  romanFamily: string;
  romanGiven: string;
  /** The family name alone as free text writes it, and its tokens. */
  family: string;
  familyTokens: string[];
}

export interface Site extends SiteTemplate {
  staff: Person[];
}

export interface Patient {
  /** Issuer and Patient ID: who the patient is to the answer key. */
  key: string;
  charset: Charset;
  site: Site;
  name: Person;
  mrn: string;
  otherIds: { id: string; issuer: string }[];
  birthDate: string;
  sex: 'M' | 'F';
  weightKg: string;
  sizeM: string;
  address: { text: string; tokens: string[] };
  phone: string;
  email: string;
  motherBirthName: { text: string; tokens: string[] };
}

/** Plain ASCII names for doctors mentioned in free text: "Dr Anna Weber" fits any character set. */
const ASCII_FAMILY = ['Weber', 'Brandt', 'Keller', 'Hartmann', 'Lambert', 'Moreau', 'Russo', 'Marino', 'Jensen', 'Lindberg', 'Novak', 'Horvat', 'Kaiser', 'Fischbach'];
const ASCII_GIVEN = ['Anna', 'Thomas', 'Claire', 'Pierre', 'Elena', 'Marco', 'Lars', 'Ewa', 'Karin', 'Stefan'];

const PREFIXES: Partial<Record<Charset, string[]>> = { latin1: ['Dr.', 'Prof. Dr.', 'Mme', 'Sr.'], utf8: ['Dr.', 'Ing.', 'Mgr.'] };

export function person(rng: Rng, charset: Charset, opts: { middle?: boolean; prefix?: boolean } = {}): Person {
  if (charset === 'japanese') {
    const f = rng.pick(JAPANESE_POOLS.family);
    const g = rng.pick(JAPANESE_POOLS.given);
    return {
      pn: `${f.romaji}^${g.romaji}=${f.kanji}^${g.kanji}=${f.kana}^${g.kana}`,
      tokens: [f.romaji, g.romaji, f.kanji, g.kanji, f.kana, g.kana],
      display: `${f.kanji}${g.kanji}`,
      displayTokens: [f.kanji, g.kanji],
      banner: `${f.romaji} ${g.romaji}`.toUpperCase(),
      romanFamily: f.romaji.toUpperCase(),
      romanGiven: g.romaji.toUpperCase(),
      family: f.kanji,
      familyTokens: [f.kanji],
    };
  }
  const pools = NAME_POOLS[charset];
  const family = rng.pick(pools.family);
  const given = rng.pick(pools.given);
  const middle = opts.middle ? rng.pick(pools.middle.filter((m) => m.text !== given.text)) : undefined;
  const prefix = opts.prefix && PREFIXES[charset] ? rng.pick(PREFIXES[charset]!) : '';
  const components = [family.text, given.text, middle?.text ?? '', prefix].join('^').replace(/\^+$/, '');
  const givenNames = middle ? `${given.text} ${middle.text}` : given.text;
  return {
    pn: components,
    tokens: [...nameTokens(family.text), ...nameTokens(given.text), ...(middle ? nameTokens(middle.text) : [])],
    display: `${givenNames} ${family.text}`,
    displayTokens: [...nameTokens(given.text), ...(middle ? nameTokens(middle.text) : []), ...nameTokens(family.text)],
    banner: `${family.romanized} ${given.romanized}`,
    romanFamily: family.romanized,
    romanGiven: given.romanized,
    family: family.text,
    familyTokens: nameTokens(family.text),
  };
}

/** "Dr Anna Weber": a generic PHI shape, a titled name that appears nowhere else in the instance. */
export function titledDoctor(rng: Rng): { text: string; tokens: string[] } {
  const g = rng.pick(ASCII_GIVEN);
  const f = rng.pick(ASCII_FAMILY);
  return { text: `Dr ${g} ${f}`, tokens: [g, f] };
}

const d = (rng: Rng, n: number) => rng.digits(n, 0);

export function phoneNumber(rng: Rng, country: SiteTemplate['country']): string {
  switch (country) {
    case 'DE': return `+49 ${rng.digits(2, 2)} ${d(rng, 4)} ${d(rng, 4)}`;
    case 'FR': return `+33 ${rng.int(1, 5)} ${d(rng, 2)} ${d(rng, 2)} ${d(rng, 2)} ${d(rng, 2)}`;
    case 'ES': return `+34 ${rng.digits(3, 6)} ${d(rng, 3)} ${d(rng, 3)}`;
    case 'SE': return `+46 ${rng.digits(2, 1)} ${d(rng, 3)} ${d(rng, 2)} ${d(rng, 2)}`;
    case 'IT': return `+39 ${rng.digits(3, 3)} ${d(rng, 7)}`;
    case 'PL': return `+48 ${rng.digits(2, 1)} ${d(rng, 3)} ${d(rng, 2)} ${d(rng, 2)}`;
    case 'CZ': return `+420 ${rng.digits(3, 2)} ${d(rng, 3)} ${d(rng, 3)}`;
    case 'VN': return `+84 ${rng.digits(3, 2)} ${d(rng, 3)} ${d(rng, 3)}`;
    case 'RU': return `+7 ${rng.digits(3, 4)} ${d(rng, 3)}-${d(rng, 2)}-${d(rng, 2)}`;
    case 'JP': return `0${rng.int(3, 9)}-${d(rng, 4)}-${d(rng, 4)}`;
  }
}

const MAIL_DOMAINS = ['web.de', 'gmx.net', 'orange.fr', 'mail.ru', 'yahoo.co.jp', 'posteo.de', 'libero.it', 'seznam.cz', 'wp.pl', 'telia.se'];

/** Street names per script: the street is a token, the house number and city are not. */
const STREETS: Record<Charset, string[]> = {
  latin1: ['Lindenstraße', 'Rosenweg', 'Kastanienallee', 'Rue Mouffetard', 'Calle Alcalá', 'Drottninggatan', 'Via Garibaldi', 'Schillerplatz'],
  utf8: ['Piotrkowska', 'Wenceslasova', 'Nguyễn Huệ', 'Bağdat Caddesi', 'Marszałkowska'],
  cyrillic: ['Тверская', 'Арбат', 'Лесная', 'Пушкинская', 'Гагарина'],
  japanese: ['桜丘町', '緑が丘', '本町通', '若葉台'],
};

function patientAddress(rng: Rng, site: SiteTemplate): { text: string; tokens: string[] } {
  const street = rng.pick(STREETS[site.charset]);
  const number = rng.int(1, 140);
  const tokens = street.split(/\s+/).filter((w) => [...w].length >= 4);
  const text =
    site.charset === 'japanese' ? `${street}${number}-${rng.int(1, 30)}` : site.charset === 'cyrillic' ? `ул. ${street} ${number}` : `${street} ${number}`;
  return { text: `${text}, ${rng.digits(5, 1)} ${site.token}`, tokens: [...tokens, site.token] };
}

export function makeSite(template: SiteTemplate, rng: Rng): Site {
  return { ...template, staff: Array.from({ length: 6 }, () => person(rng, template.charset, { prefix: rng.chance(0.5) })) };
}

export function makeSites(rng: Rng): Site[] {
  return SITES.map((t, i) => makeSite(t, rng.fork(i)));
}

/** Mostly Latin-1 sites, as in a European hospital group; some UTF-8, Cyrillic and Japanese. */
export function pickSite(rng: Rng, sites: Site[]): Site {
  const r = rng.next();
  const charset: Charset = r < 0.6 ? 'latin1' : r < 0.75 ? 'utf8' : r < 0.88 ? 'cyrillic' : 'japanese';
  return rng.pick(sites.filter((s) => s.charset === charset));
}

export function makePatient(rng: Rng, site: Site, usedMrns: Set<string>): Patient {
  let mrn: string;
  // Eight digits starting 4-9: never a date (19xx, 20xx), never six digits like a time.
  do mrn = rng.digits(8, 4);
  while (usedMrns.has(mrn));
  usedMrns.add(mrn);
  const name = person(rng, site.charset, { middle: rng.chance(0.5), prefix: rng.chance(0.25) });
  const year = rng.int(1932, 2000);
  const ascii = (s: string) => s.toLowerCase().replace(/[^a-z]/g, '');
  const mother = person(rng, site.charset);
  const motherFamily = mother.pn.split('=')[0].split('^')[0];
  return {
    key: `${site.issuer}|${mrn}`,
    charset: site.charset,
    site,
    name,
    mrn,
    otherIds: [
      { id: `${rng.letters(2)}${rng.digits(9, 1)}`, issuer: `INS${rng.letters(4)}` },
      ...(rng.chance(0.4) ? [{ id: rng.digits(10, 4), issuer: `NAT${rng.letters(3)}` }] : []),
    ],
    birthDate: `${year}${String(rng.int(1, 12)).padStart(2, '0')}${String(rng.int(1, 28)).padStart(2, '0')}`,
    sex: rng.chance(0.5) ? 'M' : 'F',
    weightKg: String(rng.int(48, 112)),
    sizeM: (rng.int(150, 198) / 100).toFixed(2),
    address: patientAddress(rng, site),
    phone: phoneNumber(rng, site.country),
    email: `${ascii(name.romanGiven)}.${ascii(name.romanFamily)}${rng.int(1, 99)}@${rng.pick(MAIL_DOMAINS)}`,
    motherBirthName: { text: motherFamily, tokens: nameTokens(motherFamily) },
  };
}
