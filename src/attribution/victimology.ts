import { createRequire } from 'node:module';

/**
 * Victim sectors and countries, in one vocabulary whoever names them: the analyst (`--sector "law
 * firms"`), ATT&CK's group descriptions ("primarily targets entities in the US across … law firms,
 * higher education institutions …"), the MISP galaxy's sector names (`Academia - University`,
 * `Government, Administration`) and the CFR's target categories (`Civil society`, `Private sector`).
 * Each word is mapped onto one of Spoor's sectors by the first pattern it fits, so that they compare.
 */
const SECTORS: [string, RegExp][] = [
  ['think tanks', /\bthink[- ]?tanks?|policy (institut|research|organi[sz]ation)/i],
  ['government', /\bgovernment|ministr(y|ies)|embass(y|ies)|diplomat|public sector|municipal|administration|parliament|justice|immigration|intergovernmental|state agenc/i],
  ['defense', /\bdefen[cs]e|military|armed forces|intelligence|security service|police|law enforcement/i],
  ['higher education', /\b(higher education|universit(y|ies)|academi(a|c|cs)|research institut|research - innovation|scientific research|education)/i],
  ['legal', /\blaw firms?|legal|lawyers?|tax firm|accounting/i],
  ['healthcare', /\bhealth ?care|\bhealth\b|hospital|medical|infectious disease|pharma|biomedical|life science|veterinary|covid/i],
  ['ngo', /\bngos?\b|non-?governmental|non-?profit|civil society|activists?|dissidents?|opposition|human rights|religious|islamic (forums|organi[sz]ation)|political (part|organi[sz]ation)|separatists|pro-democracy/i],
  ['energy', /\benergy|\boil\b|petroleum|petrochemical|\bgas\b|electric(ity|al)?\b|power grid|utilit(y|ies)|nuclear|water|smart meter|turbine/i],
  ['financial', /\bfinanc|bank|insurance|cryptocurrenc|payment|investment|stock exchange|\bnyse\b/i],
  ['telecommunications', /\btelecom|\bisp\b|internet service provider|digital infrastructure|\bat&t\b/i],
  ['aerospace', /\baerospace|aviation|satellite|\bspace\b/i],
  ['critical infrastructure', /\bcritical infrastructure|\bICS\b|industrial control/i],
  ['manufacturing', /\bmanufactur|industrial|engineering|chemical|mining|steel|metal|construction|automotive|semi-?conductor/i],
  ['technology', /\btechnology|information technology|\bIT (sector|compan|firm|service|provider|organi)|software|high[- ]tech|electronic|digital services|programming|consulting|dns service|communication equipment|data broker|managed services? provider|security (systems|actors)/i],
  ['media', /\bmedia|journalis|news|broadcast|publishing|streaming|entertainment|social networks?|video sharing|advertising|marketing/i],
  ['transportation', /\btransport|logistic|shipping|maritime|railway|\brail\b/i],
  ['retail', /\bretail|e-?commerce|point-of-sale|online marketplace|\btrade\b/i],
  ['hospitality', /\bhospitality|hotels?|tourism|travel|restaurant/i],
  ['gaming', /\bgaming|video game|online game|gambling|casino|\bgame\b/i],
  ['agriculture', /\bagricultur|\bfood\b/i],
];

/** Names that are a sector only as a whole name (MISP's `IT - ISP`, `Country`), never inside a sentence. */
const SECTOR_NAMES: [string, RegExp][] = [
  ['telecommunications', /^IT - ISP$/i],
  ['technology', /^IT( - .*)?$/i],
  ['government', /^country$/i],
  ['critical infrastructure', /^infrastructure$/i],
];

/** A word for a sector, in Spoor's vocabulary; undefined when none fits ("Private sector", "Other"). */
export function sectorOf(word: string): string | undefined {
  const w = word.trim();
  return (SECTOR_NAMES.find(([, re]) => re.test(w)) ?? SECTORS.find(([, re]) => re.test(w)))?.[0];
}

/** An analyst's word for a sector, in Spoor's vocabulary (or as given, lower-cased, when none fits). */
export function normaliseSector(word: string): string {
  return sectorOf(word) ?? word.trim().toLowerCase();
}

const require = createRequire(import.meta.url);
interface Countries {
  getAlpha2Code(name: string, lang: string): string | undefined;
  getName(code: string, lang: string, options?: { select: 'official' | 'alias' }): string | undefined;
  registerLocale(data: unknown): void;
  isValid(code: string): boolean;
}
let countries: Countries | undefined;
function isoCountries(): Countries {
  if (!countries) {
    countries = require('i18n-iso-countries') as Countries;
    countries.registerLocale(require('i18n-iso-countries/langs/en.json'));
  }
  return countries;
}

/** Names the ISO list does not know, as reports and the CFR write them. */
const OTHER_NAMES: Record<string, string> = {
  "democratic people's republic of korea": 'KP', britain: 'GB', 'great britain': 'GB', england: 'GB', 'south korea': 'KR', 'north korea': 'KP', korea: 'KR', russia: 'RU', iran: 'IR', syria: 'SY',
  laos: 'LA', 'viet nam': 'VN', 'ivory coast': 'CI', macao: 'MO', macedonia: 'MK', moldova: 'MD', bolivia: 'BO', venezuela: 'VE', tanzania: 'TZ',
  'the philippines': 'PH', 'the netherlands': 'NL', holland: 'NL', 'czechia': 'CZ', lebonon: 'LB', gaza: 'PS', kurdistan: 'IQ', 'u.s.': 'US', 'u.k.': 'GB', uae: 'AE',
};

/** A country's name ("United States", "Korea (Republic of)", "Iran (Islamic Republic of)") as its ISO code; undefined when it names no country. */
export function countryCode(name: string): string | undefined {
  const n = name.trim().replace(/^the /i, '');
  if (!n) return undefined;
  const iso = isoCountries();
  // "Korea (Republic of)", "Moldova, Republic of" → "Republic of Korea", "Republic of Moldova"
  const turned = /^(.+?)\s*[(,]\s*(.+? of)\)?$/i.exec(n);
  for (const candidate of [n, ...(turned ? [`${turned[2]} ${turned[1]}`, turned[1]!] : [])]) {
    const code = iso.getAlpha2Code(candidate, 'en') ?? OTHER_NAMES[candidate.toLowerCase()];
    if (code) return code;
  }
  return undefined;
}

/** An ISO code's country name ("CN" → "China"), or the code when it names none. */
export function countryName(code: string): string {
  // The short name people use ("China", "Iran"), unless it is an abbreviation or a catalogue form ("Korea, Republic of").
  const iso = isoCountries();
  const alias = iso.getName(code, 'en', { select: 'alias' });
  return (alias && alias.length > 3 && !alias.includes(',') ? alias : iso.getName(code, 'en')) ?? code;
}

/** Countries by ISO code, with the names and adjectives descriptions use. */
const COUNTRIES: [string, RegExp][] = [
  ['US', /\b(United States|U\.S\.|US|USA|American)\b/],
  ['GB', /\b(United Kingdom|UK|Britain|British)\b/],
  ['JP', /\b(Japan|Japanese)\b/],
  ['KR', /\b(South Korean?|Republic of Korea)\b|(?<!North )\bKorean?\b/],
  ['KP', /\b(North Korea|North Korean)\b/],
  ['TW', /\b(Taiwan|Taiwanese)\b/],
  ['CN', /\b(China|Chinese)\b/],
  ['HK', /\bHong Kong\b/],
  ['IN', /\b(India|Indian)\b/],
  ['PK', /\b(Pakistan|Pakistani)\b/],
  ['RU', /\b(Russia|Russian)\b/],
  ['UA', /\b(Ukraine|Ukrainian)\b/],
  ['DE', /\b(Germany|German)\b/],
  ['FR', /\b(France|French)\b/],
  ['IL', /\b(Israel|Israeli)\b/],
  ['SA', /\b(Saudi Arabia|Saudi)\b/],
  ['AE', /\b(United Arab Emirates|UAE)\b/],
  ['IR', /\b(Iran|Iranian)\b/],
  ['VN', /\b(Vietnam|Vietnamese)\b/],
  ['PH', /\b(Philippines|Filipino)\b/],
  ['MY', /\b(Malaysia|Malaysian)\b/],
  ['SG', /\b(Singapore)\b/],
  ['TH', /\b(Thailand|Thai)\b/],
  ['ID', /\b(Indonesia|Indonesian)\b/],
  ['AU', /\b(Australia|Australian)\b/],
  ['CA', /\b(Canada|Canadian)\b/],
  ['TR', /\b(Turkey|Turkish|Türkiye)\b/],
  ['AL', /\b(Albania|Albanian)\b/],
  ['MN', /\b(Mongolia|Mongolian)\b/],
];

/** The countries a sentence names, by the names and adjectives descriptions use. */
export function countriesNamedIn(text: string): string[] {
  return COUNTRIES.filter(([, re]) => re.test(text)).map(([code]) => code);
}

/** An analyst's word for a country as an ISO code ("United States", "us", "US" → US). */
export function normaliseCountry(word: string): string {
  const w = word.trim();
  if (/^[a-z]{2}$/i.test(w)) return w.toUpperCase();
  return countryCode(w) ?? countriesNamedIn(w.replace(/\b\w/g, (c) => c.toUpperCase()))[0] ?? w.toUpperCase();
}

/**
 * The sectors and countries a description says the group targets: from its sentences about
 * targets or victims only, not those about its origin ("a Chinese threat group").
 */
export function victimsIn(description: string): { sectors: string[]; countries: string[] } {
  const sectors = new Set<string>();
  const found = new Set<string>();
  const clean = description.replace(/\(Citation: [^)]*\)/g, '').replace(/\[([^\]]+)\]\([^)]*\)/g, '$1');
  for (const sentence of clean.split(/(?<=\.)\s+/)) {
    if (!/\b(target|victim|attack(ed|s)? (on|against)|compromis|intrusions? (in|into|against)|focus)/i.test(sentence)) continue;
    for (const [name, re] of SECTORS) if (re.test(sentence)) sectors.add(name);
    // The actor's own country is usually named as an origin ("Chinese threat group"), rarely as a target.
    const targets = sentence
      .replace(/\b(\w+ )?(state-sponsored|sponsored|based|nexus|origins?|operating out of|attributed to|linked to|affiliated with)\b.*?(group|actor|unit|agency|service)s?\b/gi, ' ')
      .replace(/\b(operating (out of|from)|based in|located in|originating (in|from)|sponsored by|working for|on behalf of)( the)? [A-Z][\w.]*( [A-Z][\w.]*)*/g, ' ');
    for (const code of countriesNamedIn(targets)) found.add(code);
  }
  return { sectors: [...sectors], countries: [...found] };
}
