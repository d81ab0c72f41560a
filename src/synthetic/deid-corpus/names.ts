/**
 * Name pools for each character set: real-looking family and given names (accented Latin,
 * Central European and Vietnamese, Cyrillic, Japanese in kanji and kana), chosen so that
 * none is also a clinical word the answer key expects to survive.
 */
import { Charset } from './charsets';

/** A name in one script, with how it is written on a Latin-only burned-in banner. */
export interface NamePart {
  text: string;
  romanized: string;
}

export interface JapaneseName {
  kanji: string;
  kana: string;
  romaji: string;
}

const LATIN1_FAMILY = [
  'Müller', 'Schäfer', 'Köhler', 'Böhm', 'Großmann', 'Hoffmann', 'Weißenborn', 'Lefèvre', 'Bénard', 'Girardeau',
  'Dubreuil', 'Rodríguez', 'Fernández', 'Núñez', 'Gonçalves', 'Magalhães', 'Østergaard', 'Jørgensen', 'Åkesson',
  'Söderberg', 'Lindqvist', 'Bianchetti', 'Esposito', 'Ferraro', "O'Sullivan", 'MacAllister', 'van der Meulen',
  'Brennecke', 'Hämäläinen', 'Ruiz-Tagle', 'Castañeda', 'Wüstenhagen', 'Thorsdóttir', 'Lévesque', 'Brückner',
];
const LATIN1_GIVEN = [
  'Hans', 'Jürgen', 'Anneliese', 'Käthe', 'François', 'Amélie', 'Hélène', 'José', 'María', 'Inés', 'Søren', 'Åsa',
  'Björn', 'Giulia', 'Matteo', 'João', 'Brigitte', 'Théo', 'Zoë', 'Ignacio', 'Ingrid', 'Siobhán', 'Eoghan',
  'Margarethe', 'Wolfgang', 'Dörte', 'Raphaël', 'Solène', 'Mårten', 'Pälvi',
];
const LATIN1_MIDDLE = ['Peter', 'Luise', 'Antoine', 'Élise', 'Carmen', 'Henrik', 'Josefine', 'Friedrich', 'Benedikt', 'Añaterve'];

const UTF8_FAMILY = [
  'Wróblewski', 'Łukasiewicz', 'Żółkiewska', 'Dvořák', 'Šťastná', 'Procházka', 'Yılmaz', 'Çelikkaya', 'Öztürk',
  'Nguyễn', 'Trần', 'Phạm', 'Ştefănescu', 'Kovačević', 'Đorđević', 'Παπαδόπουλος', 'Οικονόμου',
];
const UTF8_GIVEN = [
  'Łukasz', 'Bożena', 'Grzegorz', 'Jiří', 'Růžena', 'Ayşe', 'Gülşen', 'Hương', 'Dũng', 'Şerban', 'Dragoš', 'Γιώργος', 'Ελένη',
];
const UTF8_MIDDLE = ['Văn', 'Małgorzata', 'Tomáš', 'Ioana'];
/** Greek has no diacritic folding to Latin: transliterated by hand. */
const GREEK_ROMAN: Record<string, string> = {
  Παπαδόπουλος: 'PAPADOPOULOS', Οικονόμου: 'OIKONOMOU', Γιώργος: 'GIORGOS', Ελένη: 'ELENI',
};

const CYRILLIC_FAMILY = [
  'Иванов', 'Смирнова', 'Кузнецов', 'Соколова', 'Лебедев', 'Козлова', 'Новиков', 'Морозова', 'Волков', 'Зайцева', 'Павлов', 'Семёнова',
];
const CYRILLIC_GIVEN = ['Сергей', 'Алексей', 'Дмитрий', 'Ольга', 'Татьяна', 'Наталья', 'Игорь', 'Елена', 'Михаил', 'Ирина'];
const CYRILLIC_MIDDLE = ['Петрович', 'Ивановна', 'Сергеевич', 'Алексеевна', 'Николаевич', 'Андреевна'];

const JAPANESE_FAMILY: JapaneseName[] = [
  { kanji: '山田', kana: 'やまだ', romaji: 'Yamada' },
  { kanji: '佐藤', kana: 'さとう', romaji: 'Satou' },
  { kanji: '鈴木', kana: 'すずき', romaji: 'Suzuki' },
  { kanji: '高橋', kana: 'たかはし', romaji: 'Takahashi' },
  { kanji: '田中', kana: 'たなか', romaji: 'Tanaka' },
  { kanji: '渡辺', kana: 'わたなべ', romaji: 'Watanabe' },
  { kanji: '中村', kana: 'なかむら', romaji: 'Nakamura' },
  { kanji: '小林', kana: 'こばやし', romaji: 'Kobayashi' },
  { kanji: '吉田', kana: 'よしだ', romaji: 'Yoshida' },
  { kanji: '松本', kana: 'まつもと', romaji: 'Matsumoto' },
];
const JAPANESE_GIVEN: JapaneseName[] = [
  { kanji: '太郎', kana: 'たろう', romaji: 'Tarou' },
  { kanji: '花子', kana: 'はなこ', romaji: 'Hanako' },
  { kanji: '健一', kana: 'けんいち', romaji: 'Kenichi' },
  { kanji: '美咲', kana: 'みさき', romaji: 'Misaki' },
  { kanji: '翔太', kana: 'しょうた', romaji: 'Shouta' },
  { kanji: '陽子', kana: 'ようこ', romaji: 'Youko' },
  { kanji: '大輔', kana: 'だいすけ', romaji: 'Daisuke' },
  { kanji: '恵子', kana: 'けいこ', romaji: 'Keiko' },
];

const CYRILLIC_TO_LATIN: Record<string, string> = {
  а: 'a', б: 'b', в: 'v', г: 'g', д: 'd', е: 'e', ё: 'e', ж: 'zh', з: 'z', и: 'i', й: 'i', к: 'k', л: 'l', м: 'm',
  н: 'n', о: 'o', п: 'p', р: 'r', с: 's', т: 't', у: 'u', ф: 'f', х: 'kh', ц: 'ts', ч: 'ch', ш: 'sh', щ: 'shch',
  ъ: '', ы: 'y', ь: '', э: 'e', ю: 'iu', я: 'ia',
};

const LATIN_FOLD: Record<string, string> = { Ł: 'L', ł: 'l', Đ: 'D', đ: 'd', Ø: 'O', ø: 'o', ß: 'SS', Æ: 'AE', æ: 'ae', ı: 'i', Þ: 'TH', þ: 'th', Ð: 'D', ð: 'd' };

/** Upper-case ASCII as a banner font can draw it. */
export function romanize(text: string): string {
  if (GREEK_ROMAN[text]) return GREEK_ROMAN[text];
  const folded = [...text]
    .map((ch) => LATIN_FOLD[ch] ?? CYRILLIC_TO_LATIN[ch.toLowerCase()] ?? ch)
    .join('')
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '');
  return folded.toUpperCase();
}

const part = (text: string): NamePart => ({ text, romanized: romanize(text) });

export interface NamePools {
  family: NamePart[];
  given: NamePart[];
  middle: NamePart[];
}

export const NAME_POOLS: Record<Exclude<Charset, 'japanese'>, NamePools> = {
  latin1: { family: LATIN1_FAMILY.map(part), given: LATIN1_GIVEN.map(part), middle: LATIN1_MIDDLE.map(part) },
  utf8: { family: UTF8_FAMILY.map(part), given: UTF8_GIVEN.map(part), middle: UTF8_MIDDLE.map(part) },
  cyrillic: { family: CYRILLIC_FAMILY.map(part), given: CYRILLIC_GIVEN.map(part), middle: CYRILLIC_MIDDLE.map(part) },
};

export const JAPANESE_POOLS = { family: JAPANESE_FAMILY, given: JAPANESE_GIVEN };

/** Particles of family names that identify nobody on their own (van der Meulen: only Meulen is a token). */
const PARTICLES = new Set(['van', 'der', 'de', 'la', 'del', 'von', 'di', 'da', 'dos']);

/** The parts of a name that are PHI tokens: words of three letters or more, particles left out. */
export function nameTokens(text: string): string[] {
  return text.split(/[\s\-'’]+/).filter((w) => [...w].length >= 3 && !PARTICLES.has(w.toLowerCase()));
}
