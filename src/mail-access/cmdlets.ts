/**
 * Exchange cmdlets that reach into a mailbox or open it to someone else, as the MSExchange Management
 * log, a process's command line or the unified audit log's admin records give them.
 */
export type CmdletKind = 'export' | 'inbox-rule' | 'permission' | 'forwarding' | 'search' | 'role';

export interface MailboxCmdlet {
  cmdlet: string;
  kind: CmdletKind;
  /** The mailbox it acts on ('' when the cmdlet names none, as a role assignment). */
  mailbox: string;
  parameters: Map<string, string>;
  /** What it does, in a few words (where an export goes, where mail is forwarded, who gets access). */
  detail: string;
}

/** The parameter naming the mailbox, by cmdlet (lower case). */
const MAILBOX_PARAMETER: Record<string, { kind: CmdletKind; mailbox: string[] }> = {
  'new-mailboxexportrequest': { kind: 'export', mailbox: ['Mailbox'] },
  'new-compliancesearchaction': { kind: 'export', mailbox: ['SearchName'] },
  'search-mailbox': { kind: 'search', mailbox: ['Identity'] },
  'new-inboxrule': { kind: 'inbox-rule', mailbox: ['Mailbox'] },
  'set-inboxrule': { kind: 'inbox-rule', mailbox: ['Mailbox', 'Identity'] },
  'add-mailboxpermission': { kind: 'permission', mailbox: ['Identity'] },
  'add-mailboxfolderpermission': { kind: 'permission', mailbox: ['Identity'] },
  'add-recipientpermission': { kind: 'permission', mailbox: ['Identity'] },
  'set-mailbox': { kind: 'forwarding', mailbox: ['Identity'] },
  'new-managementroleassignment': { kind: 'role', mailbox: [] },
};

/** Set-Mailbox matters only when it forwards mail; an inbox rule only when it moves mail out or hides it. */
const FORWARDING = ['ForwardingSmtpAddress', 'ForwardingAddress', 'DeliverToMailboxAndForward'];
const RULE_ACTIONS = ['ForwardTo', 'RedirectTo', 'ForwardAsAttachmentTo', 'DeleteMessage', 'MoveToFolder', 'MarkAsRead'];

/** Reads `-Name "value" -Other value -Switch` (the Management log wraps them in braces). */
export function parseParameters(text: string): Map<string, string> {
  const out = new Map<string, string>();
  const t = text.trim().replace(/^\{/, '').replace(/\}$/, '');
  const re = /(?<![^\s])-([A-Za-z]\w*)(?::|\s+)?(?:"((?:[^"]|"")*)"|'((?:[^']|'')*)'|(?!-[A-Za-z])([^\s"']+))?/g;
  for (let m = re.exec(t); m; m = re.exec(t)) {
    const value = m[2]?.replace(/""/g, '"') ?? m[3]?.replace(/''/g, "'") ?? m[4] ?? '';
    out.set(m[1]!.toLowerCase(), value);
  }
  return out;
}

/** A mailbox cmdlet from its name and parameters, or undefined when it is not one that matters here. */
export function mailboxCmdlet(cmdlet: string, parameters: Map<string, string>): MailboxCmdlet | undefined {
  const known = MAILBOX_PARAMETER[cmdlet.toLowerCase()];
  if (!known) return undefined;
  const p = (name: string) => parameters.get(name.toLowerCase());
  const mailbox = known.mailbox.map(p).find((v) => v) ?? '';
  let detail = '';
  switch (known.kind) {
    case 'export':
      detail = p('FilePath') ? `to ${p('FilePath')}` : p('Export') !== undefined ? 'export of a compliance search' : '';
      break;
    case 'forwarding': {
      const to = FORWARDING.map(p).find((v) => v !== undefined);
      if (to === undefined) return undefined;
      detail = `forwards to ${p('ForwardingSmtpAddress') ?? p('ForwardingAddress') ?? '(as set before)'}`;
      break;
    }
    case 'inbox-rule': {
      const actions = RULE_ACTIONS.filter((a) => p(a) !== undefined);
      if (!actions.length) return undefined;
      detail = `rule ${p('Name') ?? p('Identity') ?? ''}: ${actions.map((a) => (p(a) ? `${a} ${p(a)}` : a)).join(', ')}`.trim();
      break;
    }
    case 'permission':
      detail = `${p('AccessRights') ?? 'access'} for ${p('User') ?? p('Trustee') ?? '?'}`;
      break;
    case 'search':
      detail = p('TargetMailbox') ? `results copied to ${p('TargetMailbox')}` : p('SearchQuery') ? `query ${p('SearchQuery')}` : '';
      break;
    case 'role':
      if (!/mailbox import export|applicationimpersonation/i.test(p('Role') ?? '')) return undefined;
      detail = `role ${p('Role')} for ${p('User') ?? p('SecurityGroup') ?? '?'}`;
      break;
  }
  return { cmdlet, kind: known.kind, mailbox: mailbox.replace(/^'|'$/g, ''), parameters, detail };
}

const CMDLET_IN_TEXT = new RegExp(`\\b(${Object.keys(MAILBOX_PARAMETER).join('|')})\\b`, 'gi');

/** The mailbox cmdlets a command line or script text runs (PowerShell with Exchange's snap-in, as HAFNIUM ran it). */
export function cmdletsInText(text: string): MailboxCmdlet[] {
  const out: MailboxCmdlet[] = [];
  const found = [...text.matchAll(CMDLET_IN_TEXT)];
  found.forEach((m, i) => {
    const end = found[i + 1]?.index ?? text.length;
    // A statement ends at ; or | (not inside quotes: good enough for the command lines met).
    const rest = text.slice(m.index! + m[0].length, end).split(/[;|]/)[0]!;
    const c = mailboxCmdlet(m[0], parseParameters(rest));
    if (c) out.push(c);
  });
  return out;
}
