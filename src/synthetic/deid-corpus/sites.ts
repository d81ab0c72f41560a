/**
 * Hospitals the synthetic patients are seen at, one set per character set. Each has one
 * distinctive word (the token a leak scan looks for), an ASCII form of it for domains and
 * station names, and the local coding scheme its RIS invents codes in.
 */
import { Charset } from './charsets';

export interface SiteTemplate {
  charset: Charset;
  institution: string;
  /** The word that identifies the institution wherever it appears. */
  token: string;
  /** ASCII spelling, used in domain names, e-mail addresses and station names. */
  asciiToken: string;
  address: string;
  addressTokens: string[];
  department: string;
  issuer: string;
  /** CodingSchemeDesignator of the site's own codes: never a registered scheme. */
  localScheme: string;
  domain: string;
  country: 'DE' | 'FR' | 'ES' | 'SE' | 'IT' | 'PL' | 'CZ' | 'VN' | 'RU' | 'JP';
}

export const SITES: SiteTemplate[] = [
  {
    charset: 'latin1', institution: 'Kreisklinik Wendelstein', token: 'Wendelstein', asciiToken: 'wendelstein',
    address: 'Kufsteiner Straße 12, 83098 Brannenburg', addressTokens: ['Kufsteiner', 'Brannenburg'],
    department: 'Radiologie Wendelstein', issuer: 'KKWENDEL', localScheme: '99WEND', domain: 'kreisklinik-wendelstein.de', country: 'DE',
  },
  {
    charset: 'latin1', institution: 'Hôpital Saint-Aubin de Varennes', token: 'Varennes', asciiToken: 'varennes',
    address: '4 rue des Tanneurs, 55270 Varennes-en-Argonne', addressTokens: ['Tanneurs'],
    department: "Service d'imagerie Varennes", issuer: 'HSAVARENN', localScheme: 'HSAV', domain: 'ch-varennes.fr', country: 'FR',
  },
  {
    charset: 'latin1', institution: 'Hospital Universitario La Fuensanta', token: 'Fuensanta', asciiToken: 'fuensanta',
    address: 'Avenida de Castilla 41, 30310 Cartagena', addressTokens: ['Castilla'],
    department: 'Radiodiagnóstico Fuensanta', issuer: 'HUFUENSA', localScheme: 'XYZHOSP', domain: 'hu-fuensanta.es', country: 'ES',
  },
  {
    charset: 'latin1', institution: 'Sjukhuset i Västerbyholm', token: 'Västerbyholm', asciiToken: 'vasterbyholm',
    address: 'Lasarettsgatan 9, 721 89 Västerbyholm', addressTokens: ['Lasarettsgatan'],
    department: 'Bild- och funktionsmedicin Västerbyholm', issuer: 'SJVASTBY', localScheme: 'L', domain: 'sjukhus-vasterbyholm.se', country: 'SE',
  },
  {
    charset: 'latin1', institution: 'Ospedale Santa Vittoria di Pontremoli', token: 'Pontremoli', asciiToken: 'pontremoli',
    address: 'Via dei Mulini 23, 54027 Pontremoli', addressTokens: ['Mulini'],
    department: 'Radiologia Pontremoli', issuer: 'OSVPONTR', localScheme: 'LOCAL', domain: 'ospedale-pontremoli.it', country: 'IT',
  },
  {
    charset: 'utf8', institution: 'Szpital Wojewódzki w Żyrardowie', token: 'Żyrardowie', asciiToken: 'zyrardow',
    address: 'ul. Limanowskiego 30, 96-300 Żyrardów', addressTokens: ['Limanowskiego', 'Żyrardów'],
    department: 'Zakład Radiologii Żyrardowie', issuer: 'SWZYRARD', localScheme: '99SWZ', domain: 'szpital-zyrardow.pl', country: 'PL',
  },
  {
    charset: 'utf8', institution: 'Fakultní nemocnice Třebovice', token: 'Třebovice', asciiToken: 'trebovice',
    address: 'Nemocniční 1, 708 52 Třebovice', addressTokens: ['Nemocniční'],
    department: 'Radiodiagnostická klinika Třebovice', issuer: 'FNTREBOV', localScheme: 'L', domain: 'fn-trebovice.cz', country: 'CZ',
  },
  {
    charset: 'utf8', institution: 'Bệnh viện Hòa Khánh', token: 'Khánh', asciiToken: 'hoakhanh',
    address: '12 Lương Bằng, Liên Chiểu, Đà Nẵng', addressTokens: ['Lương', 'Chiểu'],
    department: 'Khoa Chẩn đoán hình ảnh Hòa Khánh', issuer: 'BVHOAKH', localScheme: 'LOCAL', domain: 'bv-hoakhanh.vn', country: 'VN',
  },
  {
    charset: 'cyrillic', institution: 'Городская больница Заречная', token: 'Заречная', asciiToken: 'zarechnaya',
    address: 'ул. Садовая 14, Заречный', addressTokens: ['Садовая', 'Заречный'],
    department: 'Отделение лучевой диагностики Заречная', issuer: 'GBZARECH', localScheme: '99GBZ', domain: 'gb-zarechnaya.ru', country: 'RU',
  },
  {
    charset: 'cyrillic', institution: 'Областная больница Верхнеозёрск', token: 'Верхнеозёрск', asciiToken: 'verkhneozersk',
    address: 'пр. Мира 7, Верхнеозёрск', addressTokens: ['Мира'],
    department: 'Рентгенология Верхнеозёрск', issuer: 'OBVERKHN', localScheme: 'L', domain: 'obl-verkhneozersk.ru', country: 'RU',
  },
  {
    charset: 'japanese', institution: '東都中央医療センター', token: '東都中央', asciiToken: 'toutochuo',
    address: '東京都千代田区神田錦町3-2', addressTokens: ['神田錦町'],
    department: '放射線科 東都中央', issuer: 'TOTOCHUO', localScheme: '99TTC', domain: 'toutochuo-mc.jp', country: 'JP',
  },
  {
    charset: 'japanese', institution: '北浜総合病院', token: '北浜', asciiToken: 'kitahama',
    address: '大阪府大阪市中央区北浜2-1', addressTokens: ['大阪市'],
    department: '画像診断部 北浜', issuer: 'KTHMGH', localScheme: 'L', domain: 'kitahama-gh.jp', country: 'JP',
  },
];
