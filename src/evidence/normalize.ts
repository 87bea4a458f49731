import { fromCloudRecord } from './cloud.js';

/**
 * Events from other tools, put into evtx_dump's shape (`{ Event: { System, EventData } }`) so that
 * one field model serves every reader: rules see `Channel`, `EventID`, `Computer` and the event's
 * own fields by the same names whatever the event came from.
 */
type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);

/** The time an evtx_dump-shaped event gives (System/TimeCreated/@SystemTime), or ''. */
export function eventTime(event: unknown): string {
  const time = isObj(event) && isObj(event.Event) && isObj(event.Event.System) ? event.Event.System.TimeCreated : undefined;
  const attrs = isObj(time) ? time['#attributes'] : undefined;
  return isObj(attrs) && typeof attrs.SystemTime === 'string' ? attrs.SystemTime : '';
}

function system(s: { channel?: unknown; eventId?: unknown; computer?: unknown; provider?: unknown; recordId?: unknown; time?: unknown }): Obj {
  const out: Obj = {};
  if (s.provider !== undefined) out.Provider = { '#attributes': { Name: s.provider } };
  if (s.eventId !== undefined) out.EventID = s.eventId;
  if (s.time !== undefined) out.TimeCreated = { '#attributes': { SystemTime: String(s.time) } };
  if (s.recordId !== undefined) out.EventRecordID = s.recordId;
  if (s.channel !== undefined) out.Channel = s.channel;
  if (s.computer !== undefined) out.Computer = s.computer;
  return out;
}

const get = (o: unknown, path: string): unknown => path.split('.').reduce<unknown>((v, k) => (isObj(v) ? v[k] : undefined), o);

/**
 * Winlogbeat and Elastic Common Schema documents: `winlog.*` holds the Windows particulars, `@timestamp`
 * the time; `winlog.event_data` (or `winlog.user_data`) the event's fields.
 */
function fromWinlogbeat(doc: Obj): Obj {
  const winlog = doc.winlog as Obj;
  return {
    Event: {
      System: system({
        channel: winlog.channel,
        eventId: winlog.event_id ?? get(doc, 'event.code'),
        computer: winlog.computer_name ?? get(doc, 'host.name') ?? get(doc, 'host.hostname'),
        provider: winlog.provider_name,
        recordId: winlog.record_id,
        time: doc['@timestamp'],
      }),
      EventData: { ...(isObj(winlog.event_data) ? winlog.event_data : {}), ...(isObj(winlog.user_data) ? winlog.user_data : {}) },
    },
  };
}

/**
 * Column or key names other tools use for the Windows system fields, tried in order: Event Viewer and
 * PowerShell exports, NXLog and the OTRF/Mordor data sets (`Hostname`, `SourceName`), Splunk
 * (`EventCode`, `ComputerName`), Log Analytics (`Computer`, `EventLog`, `Source`), Elastic's flattened
 * names (`host.name`, `winlog.provider_name` as one key).
 */
const SYSTEM_NAMES = {
  channel: ['Channel', 'channel', 'LogName', 'Log Name', 'log_name', 'EventLog', 'EventLogName', 'winlog.channel'],
  eventId: ['EventID', 'EventId', 'Event ID', 'event_id', 'EventCode', 'Id', 'winlog.event_id', 'event.code'],
  computer: ['Computer', 'ComputerName', 'Hostname', 'HostName', 'hostname', 'MachineName', 'computer_name', 'host', 'host.name', 'winlog.computer_name'],
  provider: ['Provider_Name', 'ProviderName', 'Provider', 'SourceName', 'Source', 'provider_name', 'source_name', 'EventSourceName', 'winlog.provider_name', 'event.provider'],
  recordId: ['EventRecordID', 'RecordId', 'RecordNumber', 'record_id', 'winlog.record_id'],
  time: ['TimeCreated', 'SystemTime', 'TimeCreated_SystemTime', 'Date and Time', 'TimeGenerated', '@timestamp', 'timestamp', 'Timestamp', 'UtcTime', 'time', 'datetime', 'EventTime'],
} as const;

/**
 * A flat record (a CSV row, a JSON object of a SIEM export): its fields become the event's data,
 * and the first of the usual names for each system field (or `timeField`) its system part.
 */
export function fromFlatRecord(record: Obj, timeField?: string): Obj {
  return { Event: { System: flatSystem((n) => record[n], timeField), EventData: record } };
}

/** The System element of a flat record whose fields `field` gives: the first of the usual names for each system field (or `timeField`). */
export function flatSystem(field: (name: string) => unknown, timeField?: string): Obj {
  const pick = (names: readonly string[]) => {
    for (const n of names) {
      const v = field(n);
      if (v !== undefined && v !== '') return v;
    }
    return undefined;
  };
  const time = timeField ? field(timeField) : pick(SYSTEM_NAMES.time);
  const parsed = time === undefined ? undefined : normaliseTime(String(time));
  return system({ channel: pick(SYSTEM_NAMES.channel), eventId: pick(SYSTEM_NAMES.eventId), computer: pick(SYSTEM_NAMES.computer), provider: pick(SYSTEM_NAMES.provider), recordId: pick(SYSTEM_NAMES.recordId), time: parsed });
}

/** A time as ISO-8601 UTC when it can be read as one (times without a zone are taken as UTC), else as given. */
export function normaliseTime(text: string): string {
  const t = text.trim();
  const withZone = /[zZ]$|[+-]\d\d:?\d\d$/.test(t) ? t : `${t}Z`;
  const ms = Date.parse(withZone.replace(' ', 'T'));
  return Number.isNaN(ms) ? t : new Date(ms).toISOString();
}

/** A JSON event in whichever shape it came: evtx_dump's as it is, Winlogbeat/ECS, cloud audit records and flat objects mapped. */
export function normaliseJsonEvent(value: unknown, timeField?: string): unknown {
  if (!isObj(value)) return value;
  if (isObj(value.Event)) return value;
  if (isObj(value.winlog)) return fromWinlogbeat(value);
  return fromCloudRecord(value) ?? fromFlatRecord(value, timeField);
}
