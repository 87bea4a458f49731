import { readHead } from '../common/read-head.js';

/**
 * What in a collected Exchange server's files calls for a look, by path and first bytes: pages in
 * folders that hold none on a clean install (web shells), memory dumps of LSASS, archives staged in
 * ProgramData; as Test-ProxyLogon.ps1, CHIRP and MSERT looked for them after March 2021.
 */
export interface FileFinding {
  check: 'web-page' | 'lsass-dump' | 'staged-archive' | 'mailbox-export';
  title: string;
  level: 'low' | 'medium' | 'high';
  tags: string[];
  detail: string;
}

/** The pages an Exchange install puts in owa/auth (2013 to SE); anything else there is not Microsoft's. */
const OWA_AUTH_PAGES = new Set(['errorfe.aspx', 'expiredpassword.aspx', 'frowny.aspx', 'logoff.aspx', 'logon.aspx', 'outlookcn.aspx', 'redirsuiteserviceproxy.aspx', 'signout.aspx', 'getidtoken.htm', 'sessiondata.aspx']);
const PAGE = /\.(aspx|ashx|asmx|asp|axd|cshtml|jsp|php)$/i;

/** Whether a path (relative to the evidence folder, '/'-separated) is in a folder IIS serves. */
export function isWebPath(rel: string): boolean {
  const p = rel.toLowerCase();
  return p.includes('inetpub/wwwroot/') || p.includes('/frontend/httpproxy/') || p.includes('/clientaccess/');
}

function startsWith(file: string, magic: Buffer): boolean {
  return readHead(file, magic.length)?.equals(magic) ?? false;
}

const MDMP = Buffer.from('MDMP', 'latin1');

/** The findings a file gives rise to (most give none). `file` is its path on this machine, `rel` under the evidence folder. */
export function checkServerFile(file: string, rel: string): FileFinding[] {
  const p = rel.toLowerCase();
  const name = p.slice(p.lastIndexOf('/') + 1);
  const out: FileFinding[] = [];
  if (PAGE.test(name)) {
    const inAspnetClient = p.includes('inetpub/wwwroot/aspnet_client/');
    const authDir = /\/frontend\/httpproxy\/(owa|ecp)\/auth\/(.*)$/.exec(p);
    const inSiteRoot = /(^|\/)inetpub\/wwwroot\/[^/]+$/.test(p);
    if (inAspnetClient || inSiteRoot || (authDir && (authDir[2]!.includes('/') || !OWA_AUTH_PAGES.has(name)))) {
      out.push({ check: 'web-page', title: 'Unexpected page in an Exchange web folder', level: 'medium', tags: ['attack.persistence', 'attack.t1505.003'], detail: `${rel}: a page where a clean install has none (web shells were planted in aspnet_client and owa/auth after ProxyLogon)` });
    }
  }
  if (/\.(dmp|mdmp)$/i.test(name) && (/lsass/i.test(name) || startsWith(file, MDMP)) && (/lsass/i.test(name) || /(^|\/)(programdata|windows\/temp|temp|root|perflogs)\//.test(p) || isWebPath(rel))) {
    out.push({ check: 'lsass-dump', title: /lsass/i.test(name) ? 'LSASS memory dump on disk' : 'Process memory dump in a staging folder', level: 'high', tags: ['attack.credential-access', 'attack.t1003.001'], detail: `${rel}: a memory dump where attackers stage them (HAFNIUM dumped LSASS with procdump and comsvcs.dll into ProgramData and Windows\\Temp)` });
  }
  if (/\.(7z|zip|rar)$/i.test(name) && /(^|\/)programdata\//.test(p)) {
    const microsoft = /(^|\/)programdata\/microsoft\//.test(p);
    out.push({ check: 'staged-archive', title: 'Archive in ProgramData', level: microsoft ? 'low' : 'medium', tags: ['attack.collection', 'attack.t1560.001'], detail: `${rel}: an archive in ProgramData, where data was staged for exfiltration after ProxyLogon` });
  }
  if (/\.(pst|ost)$/i.test(name) && (isWebPath(rel) || /(^|\/)(programdata|windows\/temp|perflogs)\//.test(p))) {
    out.push({ check: 'mailbox-export', title: 'Mailbox export file where it can be fetched or staged', level: 'high', tags: ['attack.collection', 'attack.t1114.002'], detail: `${rel}: a mailbox export (.pst) in a ${isWebPath(rel) ? 'folder the web server serves, from where it can be downloaded (ProxyShell and HAFNIUM exported mailboxes there)' : 'staging folder'}` });
  }
  return out;
}
