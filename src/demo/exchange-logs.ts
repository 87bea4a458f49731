/**
 * The layouts of the logs an Exchange 2016 server writes, as the simulated server writes them:
 * IIS's W3C extended format (W3SVC1, the front end) and Exchange's CSV logs with #-directives
 * (HttpProxy per protocol, ECP server, OAB generator, Message Tracking). Headers and field lists are
 * those of real servers (docs/exchange-logs-artefacts in the shared data); values are made up.
 */

export interface Server {
  host: string;
  fqdn: string;
  ip: string;
  /** The build, e.g. 15.1.2176.2, and as Exchange's log headers write it (15.01.2176.002). */
  build: string;
}

export const longBuild = (build: string) => {
  const [a, b, c, d] = build.split('.');
  return `${a}.${b!.padStart(2, '0')}.${c!.padStart(4, '0')}.${d!.padStart(3, '0')}`;
};

/** A web request as both IIS and the HttpProxy log see it. */
export interface Request {
  time: number;
  method: string;
  stem: string;
  query: string;
  /** Authenticated user (DOMAIN\user), '' when none. */
  user: string;
  clientIp: string;
  userAgent: string;
  status: number;
  /** The HttpProxy protocol folder (Owa, Ecp, Ews …); undefined for requests the proxy does not log. */
  protocol?: string;
  anchorMailbox?: string;
  routingHint?: string;
  authType?: string;
  referer?: string;
  timeTaken: number;
}

const IIS_FIELDS = 'date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) cs(Referer) sc-status sc-substatus sc-win32-status time-taken';

export function iisHeader(time: number): string[] {
  return ['#Software: Microsoft Internet Information Services 10.0', '#Version: 1.0', `#Date: ${new Date(time).toISOString().slice(0, 19).replace('T', ' ')}`, `#Fields: ${IIS_FIELDS}`];
}

const dash = (s: string | undefined) => (s ? s : '-');

export function iisLine(s: Server, r: Request): string {
  const iso = new Date(r.time).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)} ${s.ip} ${r.method} ${r.stem} ${dash(r.query)} 443 ${dash(r.user)} ${r.clientIp} ${dash(r.userAgent.replace(/ /g, '+'))} ${dash(r.referer)} ${r.status} 0 0 ${r.timeTaken}`;
}

export const HTTPPROXY_FIELDS = 'DateTime,RequestId,MajorVersion,MinorVersion,BuildVersion,RevisionVersion,ClientRequestId,Protocol,UrlHost,UrlStem,ProtocolAction,AuthenticationType,IsAuthenticated,AuthenticatedUser,Organization,AnchorMailbox,UserAgent,ClientIpAddress,ServerHostName,HttpStatus,BackEndStatus,ErrorCode,Method,ProxyAction,TargetServer,TargetServerVersion,RoutingType,RoutingHint,BackEndCookie,ServerLocatorHost,ServerLocatorLatency,RequestBytes,ResponseBytes,TargetOutstandingRequests,AuthModulePerfContext,HttpPipelineLatency,CalculateTargetBackEndLatency,GlsLatencyBreakup,TotalGlsLatency,AccountForestLatencyBreakup,TotalAccountForestLatency,ResourceForestLatencyBreakup,TotalResourceForestLatency,ADLatency,SharedCacheLatencyBreakup,TotalSharedCacheLatency,ActivityContextLifeTime,ModuleToHandlerSwitchingLatency,ClientReqStreamLatency,BackendReqInitLatency,BackendReqStreamLatency,BackendProcessingLatency,BackendRespInitLatency,BackendRespStreamLatency,ClientRespStreamLatency,KerberosAuthHeaderLatency,HandlerCompletionLatency,RequestHandlerLatency,HandlerToModuleSwitchingLatency,ProxyTime,CoreLatency,RoutingLatency,HttpProxyOverhead,TotalRequestTime,RouteRefresherLatency,UrlQuery,BackEndGenericInfo,GenericInfo,GenericErrors,EdgeTraceId,DatabaseGuid,UserADObjectGuid,PartitionEndpointLookupLatency,RoutingStatus'.split(',');

export function exchangeHeader(s: Server, logType: string, time: number, fields: readonly string[], version = longBuild(s.build)): string[] {
  return ['#Software: Microsoft Exchange Server', `#Version: ${version}`, `#Log-type: ${logType}`, `#Date: ${new Date(time).toISOString()}`, `#Fields: ${fields.join(',')}`];
}

/** A CSV value, quoted when it must be. */
export const csv = (v: string) => (/[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);

const PROXY_INDEX = new Map(HTTPPROXY_FIELDS.map((f, i) => [f, i]));

export function httpProxyLine(s: Server, r: Request, requestId: string, backEnd: string): string {
  const v: string[] = new Array(HTTPPROXY_FIELDS.length).fill('');
  const set = (f: string, x: string | number) => (v[PROXY_INDEX.get(f)!] = csv(String(x)));
  const [major, minor, build, rev] = s.build.split('.');
  set('DateTime', new Date(r.time).toISOString());
  set('RequestId', requestId);
  set('MajorVersion', major!);
  set('MinorVersion', minor!);
  set('BuildVersion', build!);
  set('RevisionVersion', rev!);
  set('Protocol', r.protocol ?? '');
  set('UrlHost', `mail.${s.fqdn.split('.').slice(1).join('.')}`);
  set('UrlStem', r.stem);
  set('AuthenticationType', r.authType ?? (r.user ? 'Negotiate' : ''));
  set('IsAuthenticated', r.user ? 'true' : 'false');
  set('AuthenticatedUser', r.user);
  set('AnchorMailbox', r.anchorMailbox ?? '');
  set('UserAgent', r.userAgent);
  set('ClientIpAddress', r.clientIp);
  set('ServerHostName', s.host);
  set('HttpStatus', r.status);
  set('BackEndStatus', r.status < 400 ? r.status : '');
  set('Method', r.method);
  set('ProxyAction', 'Proxy');
  set('TargetServer', backEnd);
  set('TargetServerVersion', longBuild(s.build).replace(/\.\d+$/, '.000'));
  set('RoutingType', r.routingHint ? 'ServerInfo' : 'IntraForest');
  set('RoutingHint', r.routingHint ?? (r.user ? 'WindowsIdentity' : ''));
  set('RequestBytes', 200 + (r.timeTaken % 900));
  set('ResponseBytes', 400 + ((r.timeTaken * 7) % 5000));
  set('TotalRequestTime', r.timeTaken);
  set('UrlQuery', r.query ? `?${r.query}` : '');
  set('GenericInfo', `BeginRequest=${new Date(r.time - r.timeTaken).toISOString()};CorrelationID=<empty>;EndRequest=${new Date(r.time).toISOString()};`);
  return v.join(',');
}

export const ECP_FIELDS = ['TimeStamp', 'ServerName', 'EventId', 'EventData'];

export function ecpServerLine(s: Server, time: number, cmd: string, url: string, sid: string): string {
  const data = `S:TIME=${40 + (time % 300)};S:SID=${sid};S:CMD=${cmd};S:REQID=;S:URL=${url};S:REFERRER=;S:EX=;S:ACTID=${sid};S:RS=0;S:BLD=${s.build};S:TNAME=<null>;S:TID=;S:USID=${sid};S:EDOID=;S:ACID=`;
  return [new Date(time).toISOString(), s.host, 'ECP.Request', data].map(csv).join(',');
}

export const OAB_FIELDS = ['Timestamp', 'ProcessId', 'ThreadId', 'LogLevel', 'Message'];

export function oabGeneratorLine(time: number, level: string, message: string): string {
  return [new Date(time).toISOString(), '7312', String(20 + (time % 40)), level, message].map(csv).join(',');
}

export const TRACKING_FIELDS = 'date-time,client-ip,client-hostname,server-ip,server-hostname,source-context,connector-id,source,event-id,internal-message-id,message-id,network-message-id,recipient-address,recipient-status,total-bytes,recipient-count,related-recipient-address,reference,message-subject,sender-address,return-path,message-info,directionality,tenant-id,original-client-ip,original-server-ip,custom-data,transport-traffic-type,log-id,schema-version'.split(',');

export function trackingLine(s: Server, time: number, event: string, source: string, messageId: string, sender: string, recipient: string, subject: string, bytes: number): string {
  const v = new Map<string, string>([
    ['date-time', new Date(time).toISOString()], ['client-ip', s.ip], ['client-hostname', s.fqdn], ['server-hostname', s.host],
    ['source', source], ['event-id', event], ['internal-message-id', String(time % 100000)], ['message-id', `<${messageId}>`],
    ['recipient-address', recipient], ['recipient-status', event === 'DELIVER' ? '250 2.1.5 Recipient OK' : ''], ['total-bytes', String(bytes)], ['recipient-count', '1'],
    ['message-subject', subject], ['sender-address', sender], ['return-path', sender], ['directionality', 'Originating'], ['schema-version', longBuild(s.build)],
  ]);
  return TRACKING_FIELDS.map((f) => csv(v.get(f) ?? '')).join(',');
}
