/**
 * Victim sectors and countries, as analysts name them and as ATT&CK's group descriptions state them
 * ("primarily targets entities in the US across … law firms, higher education institutions …").
 * Both the analyst's words (`--sector "law firms"`) and the descriptions are mapped onto one
 * vocabulary so that they can be compared.
 */
const SECTORS: [string, RegExp][] = [
  ['government', /\bgovernment|ministr(y|ies)|embass(y|ies)|diplomat|public sector|municipal/i],
  ['defense', /\bdefen[cs]e|military|armed forces/i],
  ['higher education', /\b(higher education|universit(y|ies)|academi(a|c|cs)|research institut|education)/i],
  ['legal', /\blaw firms?|legal/i],
  ['healthcare', /\bhealth ?care|hospital|medical|infectious disease|pharma/i],
  ['think tanks', /\bthink tanks?|policy/i],
  ['ngo', /\bngos?\b|non-?governmental|non-?profit|civil society/i],
  ['energy', /\benergy|oil|gas\b|electric|power grid|utilit(y|ies)|nuclear/i],
  ['financial', /\bfinanc|bank|insurance|cryptocurrenc/i],
  ['telecommunications', /\btelecom/i],
  ['technology', /\btechnology|\bIT\b|software|semiconductor|electronics/i],
  ['manufacturing', /\bmanufactur|industrial|engineering|chemical/i],
  ['aerospace', /\baerospace|aviation|satellite/i],
  ['media', /\bmedia|journalis|news/i],
  ['transportation', /\btransport|logistics|shipping|maritime/i],
  ['retail', /\bretail|e-?commerce|point-of-sale/i],
  ['hospitality', /\bhospitality|hotel/i],
  ['gaming', /\bgaming|video game|online game|gambling/i],
  ['critical infrastructure', /\bcritical infrastructure|\bICS\b|industrial control/i],
];

/** Countries by ISO code, with the names and adjectives descriptions use. */
const COUNTRIES: [string, RegExp][] = [
  ['US', /\b(United States|U\.S\.|US|USA|American)\b/],
  ['GB', /\b(United Kingdom|UK|Britain|British)\b/],
  ['JP', /\b(Japan|Japanese)\b/],
  ['KR', /\b(South Korea|Korean|Republic of Korea)\b/],
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

/** An analyst's word for a sector, in Spoor's vocabulary (or as given, lower-cased, when none fits). */
export function normaliseSector(word: string): string {
  const hit = SECTORS.find(([, re]) => re.test(word));
  return hit ? hit[0] : word.trim().toLowerCase();
}

/** An analyst's word for a country as an ISO code ("United States", "us", "US" → US). */
export function normaliseCountry(word: string): string {
  const w = word.trim();
  if (/^[a-z]{2}$/i.test(w)) return w.toUpperCase();
  const hit = COUNTRIES.find(([, re]) => re.test(w) || re.test(w.replace(/\b\w/g, (c) => c.toUpperCase())));
  return hit ? hit[0] : w.toUpperCase();
}

/**
 * The sectors and countries a group description says the group targets: from its sentences about
 * targets or victims only, not those about its origin ("a Chinese threat group").
 */
export function victimsIn(description: string): { sectors: string[]; countries: string[] } {
  const sectors = new Set<string>();
  const countries = new Set<string>();
  const clean = description.replace(/\(Citation: [^)]*\)/g, '').replace(/\[([^\]]+)\]\([^)]*\)/g, '$1');
  for (const sentence of clean.split(/(?<=\.)\s+/)) {
    if (!/\b(target|victim|attack(ed|s)? (on|against)|compromis|intrusions? (in|into|against)|focus)/i.test(sentence)) continue;
    for (const [name, re] of SECTORS) if (re.test(sentence)) sectors.add(name);
    // The actor's own country is usually named as an origin ("Chinese threat group"), rarely as a target.
    const targets = sentence.replace(/\b(\w+ )?(state-sponsored|sponsored|based|nexus|origins?|operating out of|attributed to|linked to|affiliated with)\b.*?(group|actor|unit|agency|service)s?\b/gi, ' ');
    for (const [code, re] of COUNTRIES) if (re.test(targets)) countries.add(code);
  }
  return { sectors: [...sectors], countries: [...countries] };
}
