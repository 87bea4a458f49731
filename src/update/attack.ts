/** Checks that a text is an ATT&CK STIX 2.x bundle worth installing; returns what it holds, or throws why not. */
export function checkAttackBundle(text: string): { techniques: number; groups: number; version: string } {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new Error(`not JSON (${(e as Error).message})`);
  }
  const bundle = doc as { type?: unknown; objects?: unknown };
  if (bundle?.type !== 'bundle' || !Array.isArray(bundle.objects)) throw new Error('not a STIX bundle');
  let techniques = 0;
  let groups = 0;
  let version = '';
  for (const o of bundle.objects as { type?: string; external_references?: { source_name?: string; external_id?: string }[]; x_mitre_version?: string; name?: string }[]) {
    const id = o.external_references?.find((r) => r.source_name === 'mitre-attack')?.external_id ?? '';
    if (o.type === 'attack-pattern' && /^T\d{4}(\.\d{3})?$/.test(id)) techniques++;
    if (o.type === 'intrusion-set' && /^G\d{4}$/.test(id)) groups++;
    if (o.type === 'x-mitre-collection') version = o.x_mitre_version ?? version;
  }
  if (techniques < 100 || groups < 10) throw new Error(`only ${techniques} techniques and ${groups} groups: not the ATT&CK Enterprise matrix`);
  return { techniques, groups, version };
}
