/**
 * Microsoft 365 and Entra ID audit records, in the shapes responders get them: the unified audit log
 * as the Management Activity API, Search-UnifiedAuditLog and the Purview portal give it (a record, or
 * the AuditData column of an export) and as Microsoft Sentinel stores it (OfficeActivity); Entra ID
 * audit and sign-in logs from Sentinel (AuditLogs, SigninLogs and its kin), Microsoft Graph
 * (directoryAudits, signIns) and Azure Monitor's diagnostic export; Entra ID Protection's risk
 * detections; Azure's activity log (AzureActivity, or Azure Monitor's export); Defender XDR's CloudAppEvents.
 *
 * Each becomes an event in evtx_dump's shape whose Channel names its table (Sentinel's names, which
 * analysts query by), with the record's fields flattened to dotted names (`TargetResources.type`),
 * JSON held in strings (Sentinel writes nested columns as JSON text) read as such, and the names of
 * the other shapes given their Sentinel name too, so one pipeline entry serves every shape.
 */
type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);

export type CloudTable = 'OfficeActivity' | 'AuditLogs' | 'SigninLogs' | 'AADNonInteractiveUserSignInLogs' | 'AADServicePrincipalSignInLogs' | 'AADManagedIdentitySignInLogs' | 'CloudAppEvents' | 'AzureActivity' | 'AADUserRiskEvents' | DeviceTable;

/** Defender for Endpoint's tables (advanced hunting): what a device did, as Sysmon would tell it. */
export type DeviceTable = 'DeviceProcessEvents' | 'DeviceNetworkEvents' | 'DeviceFileEvents' | 'DeviceRegistryEvents' | 'DeviceImageLoadEvents' | 'DeviceLogonEvents' | 'DeviceEvents';
const DEVICE_TABLES = new Set<string>(['DeviceProcessEvents', 'DeviceNetworkEvents', 'DeviceFileEvents', 'DeviceRegistryEvents', 'DeviceImageLoadEvents', 'DeviceLogonEvents', 'DeviceEvents']);

/**
 * The table of a Defender record exported without it (advanced hunting results name no table), by
 * its ActionType: each table's actions are its own (learn.microsoft.com, advanced hunting schema).
 */
function deviceTable(action: string): DeviceTable {
  if (action === 'ProcessCreated') return 'DeviceProcessEvents';
  if (/^(Connection|InboundConnection|ListeningConnection|NetworkSignatureInspected|DnsConnectionInspected|HttpConnectionInspected|SslConnectionInspected|IcmpConnectionInspected|SshConnectionInspected)/.test(action)) return 'DeviceNetworkEvents';
  if (/^File(Created|Modified|Renamed|Deleted)$/.test(action)) return 'DeviceFileEvents';
  if (/^Registry/.test(action)) return 'DeviceRegistryEvents';
  if (action === 'ImageLoaded') return 'DeviceImageLoadEvents';
  if (/^Logon/.test(action)) return 'DeviceLogonEvents';
  return 'DeviceEvents';
}

const SIGNIN_TABLES: Record<string, CloudTable> = {
  SigninLogs: 'SigninLogs', SignInLogs: 'SigninLogs',
  AADNonInteractiveUserSignInLogs: 'AADNonInteractiveUserSignInLogs', NonInteractiveUserSignInLogs: 'AADNonInteractiveUserSignInLogs',
  AADServicePrincipalSignInLogs: 'AADServicePrincipalSignInLogs', ServicePrincipalSignInLogs: 'AADServicePrincipalSignInLogs',
  AADManagedIdentitySignInLogs: 'AADManagedIdentitySignInLogs', ManagedIdentitySignInLogs: 'AADManagedIdentitySignInLogs',
};

const PROVIDER: Record<CloudTable, string> = {
  OfficeActivity: 'Microsoft 365 unified audit log',
  AuditLogs: 'Entra ID audit log',
  SigninLogs: 'Entra ID sign-in log',
  AADNonInteractiveUserSignInLogs: 'Entra ID sign-in log',
  AADServicePrincipalSignInLogs: 'Entra ID sign-in log',
  AADManagedIdentitySignInLogs: 'Entra ID sign-in log',
  CloudAppEvents: 'Microsoft Defender XDR',
  AzureActivity: 'Azure activity log',
  AADUserRiskEvents: 'Entra ID Protection',
  DeviceProcessEvents: 'Microsoft Defender for Endpoint',
  DeviceNetworkEvents: 'Microsoft Defender for Endpoint',
  DeviceFileEvents: 'Microsoft Defender for Endpoint',
  DeviceRegistryEvents: 'Microsoft Defender for Endpoint',
  DeviceImageLoadEvents: 'Microsoft Defender for Endpoint',
  DeviceLogonEvents: 'Microsoft Defender for Endpoint',
  DeviceEvents: 'Microsoft Defender for Endpoint',
};

/** The categories of Azure's activity log (Azure Monitor's export names the log by them). */
const ACTIVITY_CATEGORIES = new Set(['Administrative', 'Security', 'ServiceHealth', 'Alert', 'Recommendation', 'Policy', 'Autoscale', 'ResourceHealth']);

const has = (o: Obj, ...names: string[]) => names.some((n) => o[n] !== undefined && o[n] !== null && o[n] !== '');

/** The table a record belongs to, by its `Type` (Sentinel) or the fields only that table's records have. */
export function cloudTable(o: Obj): CloudTable | undefined {
  const type = typeof o.Type === 'string' ? o.Type : '';
  if (type === 'OfficeActivity' || type === 'AuditLogs' || type === 'CloudAppEvents' || type === 'AzureActivity' || type === 'AADUserRiskEvents') return type;
  if (DEVICE_TABLES.has(type)) return type as DeviceTable;
  if (SIGNIN_TABLES[type]) return SIGNIN_TABLES[type];
  // Azure Monitor's export: the category names the log, the record is in `properties`.
  if (typeof o.category === 'string' && isObj(o.properties)) {
    if (o.category === 'AuditLogs') return 'AuditLogs';
    if (SIGNIN_TABLES[o.category]) return SIGNIN_TABLES[o.category];
  }
  if (typeof o.category === 'string' && ACTIVITY_CATEGORIES.has(o.category) && has(o, 'operationName') && has(o, 'resourceId')) return 'AzureActivity';
  if (has(o, 'riskEventType', 'RiskEventType') && has(o, 'userPrincipalName', 'UserPrincipalName') && has(o, 'riskLevel', 'RiskLevel', 'riskState', 'RiskState')) return 'AADUserRiskEvents';
  if (has(o, 'CreationTime') && has(o, 'Operation') && has(o, 'Workload', 'RecordType')) return 'OfficeActivity';
  if (has(o, 'OperationName', 'activityDisplayName') && has(o, 'LoggedByService', 'loggedByService')) return 'AuditLogs';
  if (has(o, 'AppDisplayName', 'appDisplayName') && has(o, 'UserPrincipalName', 'userPrincipalName') && (has(o, 'ResultType') || isObj(o.status))) return 'SigninLogs';
  if (has(o, 'ActionType') && has(o, 'Application') && has(o, 'ActivityType') && has(o, 'ReportId')) return 'CloudAppEvents';
  // Sentinel's export may suffix a column with its type (ReportId_long) where tables disagree on it.
  if (has(o, 'ActionType') && has(o, 'DeviceName') && has(o, 'ReportId', 'ReportId_long', 'DeviceId') && has(o, 'InitiatingProcessFileName', 'FolderPath', 'RemoteIP', 'RegistryKey')) return deviceTable(String(o.ActionType));
  return undefined;
}

/**
 * Names another shape gives a field, by the Sentinel name it also gets (the first present wins). A
 * name stands for the field and every field under it (`targetResources` gives `TargetResources.type`).
 */
const ALIASES: Partial<Record<CloudTable, [string, string[]][]>> = {
  OfficeActivity: [
    ['Workload', ['OfficeWorkload']], ['Id', ['OfficeId']], ['ObjectId', ['OfficeObjectId']],
    ['ClientIPAddress', ['Client_IPAddress']], ['LogonType', ['Logon_Type']], ['TenantId', ['OrganizationId', 'OfficeTenantId']],
  ],
  AuditLogs: [
    ['OperationName', ['activityDisplayName', 'ActivityDisplayName', 'operationName']], ['ActivityDisplayName', ['OperationName', 'activityDisplayName']],
    ['Category', ['category']], ['Result', ['result']], ['ResultReason', ['resultReason']], ['LoggedByService', ['loggedByService']],
    ['InitiatedBy', ['initiatedBy']], ['TargetResources', ['targetResources']], ['AdditionalDetails', ['additionalDetails']],
    ['CorrelationId', ['correlationId']], ['Id', ['id']], ['ActivityDateTime', ['activityDateTime']], ['OperationType', ['operationType', 'AADOperationType']],
  ],
  AzureActivity: [
    ['OperationNameValue', ['operationName']], ['CategoryValue', ['category']], ['ResourceId', ['resourceId']], ['CallerIpAddress', ['callerIpAddress']],
    ['Caller', ['caller']], ['ResourceProviderValue', ['resourceProviderName.value']], ['ActivityStatusValue', ['resultType', 'status.value']], ['CorrelationId', ['correlationId']],
  ],
  AADUserRiskEvents: [
    ['RiskEventType', ['riskEventType']], ['RiskLevel', ['riskLevel']], ['RiskState', ['riskState']], ['UserPrincipalName', ['userPrincipalName']],
    ['IpAddress', ['ipAddress']], ['Id', ['id']], ['DetectedDateTime', ['detectedDateTime']],
  ],
  SigninLogs: [
    ['UserPrincipalName', ['userPrincipalName']], ['UserDisplayName', ['userDisplayName']], ['AppDisplayName', ['appDisplayName']], ['AppId', ['appId']],
    ['IPAddress', ['ipAddress', 'callerIpAddress']], ['ClientAppUsed', ['clientAppUsed']], ['ResultType', ['status.errorCode', 'resultType']],
    ['ResultDescription', ['status.failureReason', 'resultDescription']], ['DeviceDetail', ['deviceDetail']], ['Location', ['location']],
    ['LocationDetails', ['location']], ['ConditionalAccessStatus', ['conditionalAccessStatus']], ['AuthenticationRequirement', ['authenticationRequirement']],
    ['UserAgent', ['userAgent']], ['ResourceDisplayName', ['resourceDisplayName']], ['RiskState', ['riskState']], ['NetworkLocationDetails', ['networkLocationDetails']],
    ['Id', ['id']], ['CorrelationId', ['correlationId']],
  ],
};

/** Bounds on the JSON read out of string fields: text a hostile record could make costly is left as text. */
const MAX_EMBEDDED_JSON = 1024 * 1024;
const MAX_DEPTH = 12;
/** Of a record's containers' own texts (kept for `contains` on them) at most this much is kept. */
const MAX_CONTAINER_TEXT = 4 * 1024 * 1024;

/**
 * A record's fields by dotted name: a nested object's fields under its name; the fields of an array
 * of objects as arrays of their values; a string holding JSON (or PowerShell's `@{Name=…; Value=…}`)
 * read as what it holds. A name with fields under it keeps its own text too (for `contains` on it).
 * Strings are trimmed: Microsoft pads some (an operation name ending in a space, a server name in CRLF).
 */
export function flattenRecord(record: Obj): Obj {
  // No prototype: a record's own `constructor` or `__proto__` is a field like any other.
  const out = Object.create(null) as Obj;
  // The arrays this made (values gathered under one name), grown in place: a field of a million items costs a million steps.
  const gathered = new Set<unknown[]>();
  const put = (name: string, v: unknown) => {
    const had = out[name];
    if (had === undefined) out[name] = v;
    else if (gathered.has(had as unknown[])) (had as unknown[]).push(v);
    else {
      const list = [had, v];
      gathered.add(list);
      out[name] = list;
    }
  };
  // Containers' own texts, within a budget: each level of a deep record would otherwise copy it again.
  let textBudget = MAX_CONTAINER_TEXT;
  const scalar = (v: unknown) => v === null || typeof v !== 'object';
  const walk = (name: string, v: unknown, depth: number): void => {
    if (typeof v === 'string') {
      const t = v.trim();
      put(name, t);
      const inner = depth < MAX_DEPTH ? embedded(t) : undefined;
      if (inner !== undefined) expand(name, inner, depth + 1);
      return;
    }
    if (v !== null && typeof v === 'object') {
      // A container's own text, for rules that search it whole; an array of plain values is its values.
      if (name && textBudget > 0 && !(Array.isArray(v) && v.every(scalar))) {
        const text = JSON.stringify(v);
        textBudget -= text.length;
        if (textBudget >= 0) put(name, text);
      }
      expand(name, v, depth + 1);
      return;
    }
    put(name, v);
  };
  const expand = (name: string, v: unknown, depth: number): void => {
    if (depth > MAX_DEPTH) return;
    if (Array.isArray(v)) {
      for (const x of v) {
        if (typeof x === 'string') {
          const t = x.trim();
          put(name, t);
          const inner = embedded(t);
          if (inner !== undefined) expand(name, inner, depth + 1);
        } else if (scalar(x)) put(name, x);
        else expand(name, x, depth + 1);
      }
    } else if (isObj(v)) {
      for (const [k, x] of Object.entries(v)) walk(name ? `${name}.${k}` : k, x, depth);
    }
  };
  walk('', record, 0);
  return out;
}

/** What a string field holds when it is JSON text or a PowerShell hashtable's text; else undefined. */
function embedded(t: string): unknown {
  const c = t.charCodeAt(0);
  if ((c === 123 || c === 91) && t.length <= MAX_EMBEDDED_JSON) {
    const last = t.charCodeAt(t.length - 1);
    if (last !== 125 && last !== 93) return undefined;
    try {
      return JSON.parse(t) as unknown;
    } catch {
      return undefined;
    }
  }
  // Search-UnifiedAuditLog run in PowerShell writes nested objects as `@{Name=MailAccessType; Value=Bind}`.
  if (c === 64 && t.startsWith('@{') && t.endsWith('}') && t.length <= MAX_EMBEDDED_JSON) {
    const o: Obj = {};
    for (const part of t.slice(2, -1).split('; ')) {
      const eq = part.indexOf('=');
      if (eq > 0) o[part.slice(0, eq)] = part.slice(eq + 1);
    }
    return Object.keys(o).length ? o : undefined;
  }
  return undefined;
}

const isSignIn = (t: CloudTable) => t === 'SigninLogs' || t.endsWith('SignInLogs');

function alias(fields: Obj, table: CloudTable): void {
  const list = ALIASES[isSignIn(table) ? 'SigninLogs' : table];
  if (!list) return;
  // Every name that has fields under it: found once, not searched for each alias.
  const keys = Object.keys(fields);
  const parents = new Set<string>();
  for (const k of keys) for (let dot = k.indexOf('.'); dot > 0; dot = k.indexOf('.', dot + 1)) parents.add(k.slice(0, dot));
  for (const [name, sources] of list) {
    if (fields[name] !== undefined) continue;
    const source = sources.find((s) => fields[s] !== undefined || parents.has(s));
    if (!source) continue;
    if (fields[source] !== undefined) fields[name] = fields[source];
    if (parents.has(source)) for (const k of keys) if (k.startsWith(`${source}.`)) fields[`${name}${k.slice(source.length)}`] ??= fields[k];
  }
}

/**
 * An audit record's changed properties by their own names (`ConsentContext.IsAdminConsent`,
 * `DelegatedPermissionGrant.Scope`), with their new values as text (Entra ID quotes them as JSON).
 */
function liftModifiedProperties(fields: Obj): void {
  const names = fields['TargetResources.modifiedProperties.displayName'];
  const values = fields['TargetResources.modifiedProperties.newValue'];
  if (!Array.isArray(names) || !Array.isArray(values) || names.length !== values.length) {
    if (typeof names === 'string' && names && fields[names] === undefined) fields[names] = unquote(values);
    return;
  }
  names.forEach((n, i) => {
    if (typeof n === 'string' && n && fields[n] === undefined) fields[n] = unquote(values[i]);
  });
}

const unquote = (v: unknown) => (typeof v === 'string' && v.length >= 2 && v.startsWith('"') && v.endsWith('"') ? v.slice(1, -1) : v);

const TIME_FIELDS = ['CreationTime', 'TimeGenerated', 'ActivityDateTime', 'activityDateTime', 'createdDateTime', 'DetectedDateTime', 'detectedDateTime', 'time', 'Timestamp'];

/** A cloud record in evtx_dump's shape (Channel: its table), or undefined when it is not one. */
export function fromCloudRecord(record: Obj): Obj | undefined {
  const table = cloudTable(record);
  if (!table) return undefined;
  // Azure Monitor's export: the record proper is `properties`; the envelope's fields fill what it lacks.
  const source = isObj(record.properties) && typeof record.category === 'string' ? { ...record, ...record.properties, properties: undefined } : record;
  const fields = flattenRecord(source);
  alias(fields, table);
  if (table === 'AuditLogs') liftModifiedProperties(fields);
  // The portal shows a sign-in's outcome as Status Success or Failure; the record has only its code.
  if (isSignIn(table) && fields.ResultType !== undefined && (fields.Status === undefined || typeof fields.Status === 'string' && fields.Status.startsWith('{'))) {
    fields.Status = String(fields.ResultType) === '0' ? 'Success' : 'Failure';
  }
  const first = (names: readonly string[]) => {
    for (const n of names) {
      const v = fields[n];
      if (v !== undefined && v !== null && v !== '') return Array.isArray(v) ? v[0] : v;
    }
    return undefined;
  };
  const time = first(TIME_FIELDS);
  const operation = first(['Operation', 'OperationNameValue', 'OperationName', 'ActionType', 'RiskEventType']) ?? (isSignIn(table) ? 'Sign-in' : undefined);
  const system: Obj = { Provider: { '#attributes': { Name: PROVIDER[table] } } };
  if (operation !== undefined) system.EventID = String(operation);
  if (time !== undefined) system.TimeCreated = { '#attributes': { SystemTime: isoTime(String(time)) } };
  const id = first(['Id', 'ReportId']);
  if (id !== undefined) system.EventRecordID = String(id);
  system.Channel = table;
  const tenant = first(['DeviceName', 'OrganizationName', 'AADTenantId', 'TenantId', 'tenantId']);
  if (tenant !== undefined) system.Computer = String(tenant);
  return { Event: { System: system, EventData: fields } };
}

/** A time as ISO-8601 UTC (Microsoft writes seven fractional digits and sometimes no zone: UTC). */
function isoTime(t: string): string {
  // The usual forms, without parsing: 2021-08-02T13:32:07, …Z, …07.0000000Z (seven digits, as the unified audit log writes).
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,7}))?Z?$/.exec(t);
  if (m) return `${m[1]}.${(m[2] ?? '').padEnd(3, '0').slice(0, 3)}Z`;
  const withZone = /[zZ]$|[+-]\d\d:?\d\d$/.test(t) ? t : `${t}Z`;
  const ms = Date.parse(withZone.replace(/(\.\d{3})\d+/, '$1'));
  return Number.isNaN(ms) ? t : new Date(ms).toISOString();
}

/**
 * A row of a unified audit log export (Search-UnifiedAuditLog | Export-Csv, or the Purview portal's
 * CSV): its AuditData column is the record, as JSON. Undefined when the row has no such column;
 * a string naming the fault when the column is not a record.
 */
export function auditDataRecord(auditData: string | null | undefined): Obj | string | undefined {
  if (auditData === undefined || auditData === null) return undefined;
  try {
    const v = JSON.parse(auditData) as unknown;
    return isObj(v) ? v : 'its AuditData is not a JSON object';
  } catch (e) {
    return `its AuditData is not valid JSON (${(e as Error).message})`;
  }
}
